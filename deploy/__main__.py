"""Put the demo online and the models on the Hugging Face Hub.

    python -m deploy space --repo-id USER/NAME [--dry-run]      # create or update the Space
    python -m deploy models --namespace USER [--dry-run]        # one model repo per checkpoint

Log in first (`huggingface-cli login` or HF_TOKEN). --dry-run prints every file and where it
would go, and uploads nothing.
"""
from __future__ import annotations

import argparse
import sys

from classifier.checkpoint import CHECKPOINTS_DIR, available_models
from deploy.files import model_files, space_files


def push(repo_id: str, repo_type: str, files, dry_run: bool, message: str, **create) -> None:
    total = sum(local.stat().st_size for local, _ in files)
    for local, remote in files:
        print(f"{local} -> {repo_type}:{repo_id}/{remote}")
    print(f"{len(files)} files, {total / 1e6:.1f} MB -> {repo_type} {repo_id}"
          + (" (dry run: nothing uploaded)" if dry_run else ""))
    if dry_run:
        return
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type=repo_type, exist_ok=True, **create)
    ops = [CommitOperationAdd(path_in_repo=remote, path_or_fileobj=str(local))
           for local, remote in files]
    api.create_commit(repo_id, operations=ops, commit_message=message, repo_type=repo_type)
    print(f"uploaded: https://huggingface.co/{'spaces/' if repo_type == 'space' else ''}{repo_id}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("space", help="create or update the Gradio Space")
    s.add_argument("--repo-id", required=True, help="USER/NAME of the Space")
    s.add_argument("--dry-run", action="store_true", help="list files, upload nothing")
    m = sub.add_parser("models", help="push each checkpoint as a model repo")
    m.add_argument("--namespace", required=True, help="user or organisation")
    m.add_argument("--only", nargs="*", help="checkpoint names (default: all)")
    m.add_argument("--dry-run", action="store_true", help="list files, upload nothing")
    args = p.parse_args(argv)
    if args.command == "space":
        push(args.repo_id, "space", space_files(), args.dry_run, "Update the demo",
             space_sdk="gradio")
        return 0
    names = args.only or available_models()
    unknown = sorted(set(names) - set(available_models()))
    if unknown:
        print(f"error: no checkpoint folders {unknown} in {CHECKPOINTS_DIR}", file=sys.stderr)
        return 2
    for name in names:
        push(f"{args.namespace}/{name}", "model", model_files(CHECKPOINTS_DIR / name),
             args.dry_run, f"Upload {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
