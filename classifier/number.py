"""Several digits side by side, read as a number. The ink is split into digits, each one
is prepared as MNIST was (``classifier.digits.mnist_digit``), and where geometry cannot
tell how many digits a blob holds (digits that touch), the classifier's answers decide.

    images, probs, scores = read_digits(clean_ink(load_rgba("42.png")), judge)

The split: strokes are joined across small breaks (a dilation of 3% of the ink's height);
regions under 2% of the ink are dropped as specks; regions that share most of their
columns, and regions too short to be a digit (a 5's detached bar), join the region beside
them. A region wider than 0.7 times the tallest one may hold digits that touch: it is also
read cut at columns of little ink, and the reading chosen is the one whose pieces read most
surely as digits (a narrower one, from 0.45, when whole it reads unsurely: a 1 touching its
neighbour, "17" read 7; its cut reading is taken only when sure and clearly better, or the
stem of an h, k or r is read as a 1); no cut runs through the middle of a loop (a narrow 0
cut down its middle gives two halves that read as sure 1s). Sure means confident *and* like
the training digits: each piece pays for its out-of-distribution score beyond 0.4 of the
model's threshold (``Hyp.odd_cost``). Two touching digits squeezed into one 20x20 box look like
no digit, and neither do the halves of a wide 0 or 2, which a classifier alone reads
confidently. A zigzag cuts at its turns into strokes that each read as a sure 1: a cut
reading with three 1s in a row is taken for a scribble and the blob is read whole, and so
is one with two 1s leaning apart, each its own way (a V, a Y, a tick cut at its point). A piece
much shorter than the tallest region pays too (``Hyp.low_cost``): cut off, a 9's detached tail
or a 4's stem reads as a sure 1. The other way round, two neighbouring regions close and
narrow enough to be one digit are also read together, and kept together when that scores
much better (a 0 drawn in two strokes, ( ), read 67 before): a 1 with a flag or a foot
looks unlike the training digits, and read whole with its neighbour it was lost ("16" read
6). A line written uphill or downhill, its digits upright, is also read levelled (each
column moved by the slope fitted to the middle of its ink) and the surer reading is taken:
sloping, digits that touch make a blob taller than a digit, and a piece holding two of
them escapes the cost of a short piece ("4416" read 446).
Figures: ``python -m benchmarks.robustness``; how each value was chosen: docs/log.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable, NamedTuple

import cv2
import numpy as np

from classifier.digits import mnist_digit
from classifier.image import BlankImageError

@dataclass(frozen=True)
class Hyp:
    """How a line of ink is cut into digits: every length is a fraction of the tallest
    region's height, every score a log-probability. Where each value comes from: docs/log.md."""
    max_digits: int = 12        # more separate marks than this are not one number
    short: float = 0.45         # a region shorter than this (x the tallest) is part of a digit
    may_hold_two: float = 0.7   # a region wider than this may hold two digits or more
    narrow_pair: float = 0.45   # from this width, a region read unsurely whole is also read cut
    unsure: float = -3.0        # "unsurely": whole, it scores under this
    narrow_margin: float = 2.0  # that cut reading is taken when it scores this much better
    sure: float = -4.0          # and at least this (the stem of an h, k or r is no 1)
    slants: tuple = (0.0, 0.15, -0.15)  # cuts lean this much: digits drawn close and slanted
    slant_below: float = -2.0   # leaning cuts are tried when upright scores under this a piece
    slant_sure: float = -3.0    # a leaning reading is taken at this a piece or better
    slant_margin: float = 2.0   # and when it beats the upright one by this much
    apart: float = 30.0         # two 1s leaning apart by more degrees are a V, Y or tick
    lean_each: float = 8.0      # when each leans its own way by at least this many
    split_prior: float = 1.0    # what each extra digit must earn: no split on a whim
    wide_from: float = 0.9      # a piece wider than this pays
    wide_cost: float = 6.0      # this much per unit of width beyond it
    odd_from: float = 0.4       # a piece whose OOD score / threshold passes this pays
    odd_cost: float = 10.0      # this much per unit of it: sure means like the training digits
    low_from: float = 0.8       # a piece shorter than this (x the tallest region) pays
    low_cost: float = 10.0      # this much per unit short of it: a 9's cut-off tail is no 1
    hole: float = 0.1           # a loop at least this wide or tall belongs to one digit: no cut
    hole_wide: float = 0.5      # unless wider than this: two touching digits close it in
    join_gap: float = 0.2       # neighbouring regions this close
    join_wide: float = 1.1      # and together no wider than this may be one digit, two strokes
    join_cost: float = 5.0      # read whole when that scores this much better than apart
    level_wide: float = 1.2     # a line this many times wider than tall
    level_from: float = 0.05    # climbing or falling at least this (rows per column)
    level_most: float = 0.3     # and at most this (steeper, a scribble) is also read levelled


HYP = Hyp()


class Pieces(NamedTuple):
    """One way of reading ink as digits, left to right, and what it scores."""
    images: list                # uint8 (28, 28) of each digit
    probs: list                 # (classes,) probabilities of each
    scores: list                # each one's out-of-distribution score, or None
    score: float                # log-probability of the whole reading, less its costs


def read_digits(ink: np.ndarray, judge: Callable[[np.ndarray], tuple]):
    """(uint8 (n, 28, 28) digit images, (n, classes) probabilities, (n,) out-of-distribution
    scores or None), left to right, of a drawing's cleaned ink (``digits.clean_ink``).
    ``judge`` maps a uint8 (k, 28, 28) batch to ((k, classes) probabilities, (k,) how unlike
    a digit each is, as a distance score over its threshold, or None, (k,) the model's
    out-of-distribution scores, or None)."""
    reading = _read_line(ink, judge)
    slope = _line_slope(ink)
    if HYP.level_from <= abs(slope) <= HYP.level_most:  # written up or downhill: level it
        levelled = _read_line(_levelled(ink, slope), judge)
        reading = max(reading, levelled, key=lambda r: r.score)
    images, probs, scores, _ = reading
    if len(images) > HYP.max_digits:
        raise BlankImageError(f"More than {HYP.max_digits} separate marks: write one number, "
                              "its digits side by side.")
    return np.stack(images), np.stack(probs), None if None in scores else np.array(scores)


def _read_line(ink: np.ndarray, judge):
    """(digit images, probabilities, out-of-distribution scores, score) of the best reading
    of a line of ink: its regions read one by one, neighbours also together."""
    regions, height = digit_regions(ink)
    if len(regions) > 2 * HYP.max_digits:  # even joined in pairs, too many digits: read none
        raise BlankImageError(f"More than {HYP.max_digits} separate marks: write one number, "
                              "its digits side by side.")
    readings = [_best_reading(region, left, right, height, judge)
                for region, left, right in regions]
    best = {0: (0.0, [])}  # regions read so far -> (score, their readings): as in the cuts
    for n in range(1, len(regions) + 1):
        score, chosen = best[n - 1]
        options = [(score + readings[n - 1].score, chosen + [readings[n - 1]])]
        if n >= 2 and _may_be_one(regions[n - 2], regions[n - 1], height):
            (a, left, _), (b, _, right) = regions[n - 2], regions[n - 1]
            joined = _best_reading(np.maximum(a, b), left, right, height, judge, whole=True)
            score, chosen = best[n - 2]
            options.append((score + joined.score - HYP.join_cost, chosen + [joined]))
        best[n] = max(options, key=lambda o: o[0])
    score, chosen = best[len(regions)]
    return Pieces([im for r in chosen for im in r.images], [p for r in chosen for p in r.probs],
                  [u for r in chosen for u in r.scores], score)


def _line_slope(ink: np.ndarray) -> float:
    """How steeply a line of ink climbs (negative) or falls, rows per column: the slope of
    the middle of each column's ink, fitted across a line at least HYP.level_wide times as wide
    as it is tall; 0 for anything narrower (one digit)."""
    mask = ink > 0.25
    counts = mask.sum(0)
    cols, rows = np.flatnonzero(counts), np.flatnonzero(mask.any(1))
    if cols.size < 2 or cols[-1] - cols[0] + 1 < HYP.level_wide * (rows[-1] - rows[0] + 1):
        return 0.0
    middle = (mask * np.arange(mask.shape[0])[:, None]).sum(0)[cols] / counts[cols]
    return float(np.polyfit(cols, middle, 1, w=np.sqrt(counts[cols]))[0])


def _levelled(ink: np.ndarray, slope: float) -> np.ndarray:
    """The ink with each column moved up or down by ``slope`` times its distance from the
    middle column, so a line written uphill or downhill runs level (the digits keep their
    upright strokes upright)."""
    h, w = ink.shape
    extra = int(np.ceil(abs(slope) * w / 2)) + 1
    shear = np.float32([[1, 0, 0], [-slope, 1, extra + slope * w / 2]])
    return cv2.warpAffine(ink, shear, (w, h + 2 * extra), flags=cv2.INTER_LINEAR)


def _may_be_one(a, b, height) -> bool:
    """Whether neighbouring regions ``a`` and ``b`` (ink, left, right) are close and narrow
    enough together to be one digit drawn with a pen lift: a 0 as ( ), a 4 as L and |."""
    return b[1] - a[2] <= HYP.join_gap * height and b[2] - a[1] <= HYP.join_wide * height


def _best_reading(region, left, right, height, judge, whole=False, from_width=None):
    """(digit images, probabilities, out-of-distribution scores (or Nones), score): the
    region read as the sequence of pieces (between candidate cuts; ``whole``: none) whose
    joint probability, less a prior for each extra digit, for pieces wider than a digit,
    shorter than the line and unlike the training digits, is highest. The cuts are looked
    for upright and leaning (``HYP.slants``), and the best of those readings wins: digits drawn
    close and slanted overlap, and no upright column runs between them. ``from_width``:
    look for cuts from this width (times the height), not ``HYP.may_hold_two``."""
    rows = np.flatnonzero(region.any(1))  # the region alone: its pieces are cut many times
    region, left, right = region[rows[0]:rows[-1] + 1, left:right], 0, right - left
    if whole:
        return _read_cuts(region, [left, right], 0.0, height, judge)
    if from_width is None and right - left < HYP.may_hold_two * height:
        # one digit, or a 1 touching its neighbour
        one = _best_reading(region, left, right, height, judge, whole=True)
        if right - left < HYP.narrow_pair * height or one.score >= HYP.unsure:
            return one
        cut = _best_reading(region, left, right, height, judge, from_width=HYP.narrow_pair)
        return cut if cut.score >= HYP.sure and cut.score > one.score + HYP.narrow_margin else one
    readings = []
    for slant in HYP.slants:
        sheared, lo, hi = _sheared(region, left, right, slant)
        cuts = _cut_candidates(sheared, lo, hi, height, from_width or HYP.may_hold_two)
        reading = _read_cuts(region, cuts, slant, height, judge)
        if not readings or (reading.score >= HYP.slant_sure * len(reading.images)
                            and reading.score > readings[0].score + HYP.slant_margin):
            readings.append(reading)  # a leaning reading only when it reads surely
        if not slant and reading.score >= HYP.slant_below * len(reading.images):
            break  # read surely upright
    return max(readings, key=lambda r: r.score)


def _read_cuts(region, cuts, slant, height, judge):
    """``_best_reading`` for the given cuts, columns of the region sheared by ``slant``:
    a dynamic programme over the cuts, every piece classified and scored in one batch."""
    last = len(cuts) - 1
    spans = [(i, j) for i in range(last) for j in range(i + 1, last + 1)
             if (i, j) == (0, last) or cuts[j] - cuts[i] <= 1.3 * height]
    rows, cols = np.indices(region.shape)
    at = cols + slant * (rows - region.shape[0] / 2) + _pad(region, slant)
    pieces, kept, tall = [], [], []
    total = (region > 0.25).sum()
    for i, j in spans:  # the first and last pieces run on to the region's ends
        piece = np.where((i == 0 or at >= cuts[i]) & (j == last or at < cuts[j]), region, 0.0)
        ink = piece > 0.25
        if ink.sum() >= 0.03 * total:
            pieces.append(mnist_digit(piece))
            kept.append((i, j))
            rows_inked = np.flatnonzero(ink.any(1))
            tall.append((rows_inked[-1] - rows_inked[0] + 1) / height)
    p, odd, raw = judge(np.stack(pieces))
    score = {}
    for k, (i, j) in enumerate(kept):
        too_wide = max(0.0, (cuts[j] - cuts[i]) / height - HYP.wide_from)
        unlike = 0.0 if odd is None else max(0.0, float(odd[k]) - HYP.odd_from)
        score[i, j] = (float(np.log(p[k].max() + 1e-9)) - HYP.split_prior - HYP.wide_cost * too_wide
                       - HYP.odd_cost * unlike - HYP.low_cost * max(0.0, HYP.low_from - tall[k]))
    best = {0: (0.0, [])}  # cut index -> (score, piece indices so far)
    for j in range(1, last + 1):
        options = [(best[i][0] + score[i, j], best[i][1] + [kept.index((i, j))])
                   for i in range(j) if i in best and (i, j) in score]
        if options:
            best[j] = max(options, key=lambda o: o[0])
    chosen = best[last][1]
    ones = "".join("1" if p[k].argmax() == 1 else "." for k in chosen)
    vee = any(ones[n:n + 2] == "11" and _apart(_lean(pieces[a]), _lean(pieces[b]))
              for n, (a, b) in enumerate(zip(chosen, chosen[1:])))
    if "111" in ones or vee:  # a zigzag cuts into 1s at its turns, a V into two: not a number
        chosen = [kept.index((0, last))]
        total_score = score[0, last]
    else:
        total_score = best[last][0]
    return Pieces([pieces[k] for k in chosen], [p[k] for k in chosen],
                  [None if raw is None else float(raw[k]) for k in chosen], total_score)


def _lean(image: np.ndarray) -> float:
    """How far a digit's strokes lean from upright, in degrees (its ink's principal axis;
    positive leaning right at the top)."""
    ink = image.astype(np.float64)
    rows, cols = np.indices(ink.shape)
    total = ink.sum()
    dy, dx = rows - (ink * rows).sum() / total, cols - (ink * cols).sum() / total
    yy, xx, xy = (ink * dy * dy).sum(), (ink * dx * dx).sum(), (ink * dx * dy).sum()
    return float(np.degrees(0.5 * np.arctan2(-2 * xy, yy - xx)))


def _apart(left: float, right: float) -> bool:
    """Whether two strokes lean apart as the arms of a V (or a tick, or a Y) do: each its
    own way, by at least HYP.lean_each, and by more than HYP.apart degrees together."""
    return left * right < 0 and min(abs(left), abs(right)) >= HYP.lean_each \
        and abs(left - right) > HYP.apart


def _pad(region, slant) -> int:
    """Columns added on the left so that the region sheared by ``slant`` stays in view."""
    return int(np.ceil(abs(slant) * region.shape[0] / 2)) + 1 if slant else 0


def _sheared(region, left, right, slant):
    """(region, left, right) with each row shifted by ``slant`` times its distance below
    the middle: a stroke leaning right by that much stands upright."""
    if not slant:
        return region, left, right
    pad = _pad(region, slant)
    shear = np.float32([[1, slant, pad - slant * region.shape[0] / 2], [0, 1, 0]])
    out = cv2.warpAffine(region, shear, (region.shape[1] + 2 * pad, region.shape[0]),
                         flags=cv2.INTER_LINEAR)
    inked = np.flatnonzero((out > 0.25).any(0))
    return out, int(inked[0]), int(inked[-1]) + 1


def _cut_candidates(region, left, right, height, from_width=HYP.may_hold_two) -> list[int]:
    """The region's ends and, when it is wide enough to hold two digits, the columns of
    least ink (local minima of the smoothed column profile, at least a tenth of the height
    apart, the 12 emptiest)."""
    width = right - left
    if width < from_width * height:
        return [left, right]
    columns = cv2.blur(region[:, left:right].sum(0, keepdims=True).astype(np.float32),
                       (max(1, width // 60) * 2 + 1, 1))[0]
    gap = max(2, int(0.1 * height))
    looped = _inside_loops(region[:, left:right] > 0.25, height)
    minima = [i for i in range(gap, width - gap) if not looped[i]
              and columns[i] <= columns[i - 1] and columns[i] <= columns[i + 1]]
    chosen: list[int] = []
    for i in sorted(minima, key=lambda i: columns[i]):
        if all(abs(i - c) >= gap for c in chosen):
            chosen.append(i)
        if len(chosen) == 12:
            break
    return [left, *sorted(left + c for c in chosen), right]


def _inside_loops(mask: np.ndarray, height: int) -> np.ndarray:
    """(width,) whether each column runs through the middle half of a loop: background the
    ink closes in (a 0's or 8's, a closed 4's), at least HYP.hole of the height across and at
    most HYP.hole_wide wide (wider, two touching digits close it in)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8),
                                                      connectivity=4)
    h, w = mask.shape
    inside = np.zeros(w, bool)
    for x, y, bw, bh, _ in stats[1:]:
        if x > 0 and y > 0 and x + bw < w and y + bh < h and max(bw, bh) >= HYP.hole * height \
                and bw <= HYP.hole_wide * height:
            inside[x + bw // 4:x + bw - bw // 4] = True
    return inside


def digit_regions(ink: np.ndarray) -> tuple[list[tuple[np.ndarray, int, int]], int]:
    """([(ink of one region, left, right), ...] left to right, the tallest region's height)."""
    mask = ink > 0.25
    rows = np.flatnonzero(mask.any(1))
    if rows.size == 0:
        raise BlankImageError("Draw a digit first: no ink found in this image.")
    radius = max(1, round(0.03 * (rows[-1] - rows[0] + 1)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    joined = cv2.dilate(mask.astype(np.uint8), kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    areas = np.bincount(labels[mask], minlength=count)
    keep = [i for i in range(1, count) if areas[i] >= 0.02 * mask.sum()]
    if len(keep) > 4 * HYP.max_digits:
        raise BlankImageError(f"More than {HYP.max_digits} separate marks: write one number, "
                              "its digits side by side.")
    boxes = [[stats[i, 0], stats[i, 0] + stats[i, 2], stats[i, 1], stats[i, 1] + stats[i, 3],
              [i]] for i in keep]  # left, right, top, bottom, labels
    boxes = _merge(boxes)
    height = max(b[3] - b[2] for b in boxes)
    return [(np.where(np.isin(labels, b[4]), ink, 0.0).astype(np.float32), b[0], b[1])
            for b in boxes], height


def _merge(boxes: list[list]) -> list[list]:
    """Merge regions that share at least half the narrower one's columns, then each region
    too short to be a digit into its horizontally nearest neighbour; left to right."""
    def join(a, b):
        return [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]), a[4] + b[4]]

    changed = True
    while changed and len(boxes) > 1:
        changed = False
        boxes.sort(key=lambda b: b[0])
        tallest = max(b[3] - b[2] for b in boxes)
        for i, j in combinations(range(len(boxes)), 2):
            a, b = boxes[i], boxes[j]
            overlap = min(a[1], b[1]) - max(a[0], b[0])
            if overlap >= 0.5 * min(a[1] - a[0], b[1] - b[0]):
                boxes[i] = join(a, b)
                del boxes[j]
                changed = True
                break
        if changed:
            continue
        short = [i for i, b in enumerate(boxes) if b[3] - b[2] < HYP.short * tallest]
        if short:
            i = short[0]
            a = boxes[i]
            centre = (a[0] + a[1]) / 2
            j = min((k for k in range(len(boxes)) if k != i),
                    key=lambda k: max(boxes[k][0] - centre, centre - boxes[k][1], 0))
            boxes[j] = join(boxes[j], a)
            del boxes[i]
            changed = True
    return sorted(boxes, key=lambda b: b[0])
