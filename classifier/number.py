"""Several digits side by side, read as a number. The ink is split into digits, each one
is prepared as MNIST was (``classifier.digits.mnist_digit``), and where geometry cannot
tell how many digits a blob holds (digits that touch), the classifier's answers decide.

    images, probs, scores = read_digits(load_rgba("42.png"), judge)

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
model's threshold (``ODD_COST``). Two touching digits squeezed into one 20x20 box look like
no digit, and neither do the halves of a wide 0 or 2, which a classifier alone reads
confidently. A zigzag cuts at its turns into strokes that each read as a sure 1: a cut
reading with three 1s in a row is taken for a scribble and the blob is read whole, and so
is one with two 1s leaning apart, each its own way (a V, a Y, a tick cut at its point). A piece
much shorter than the tallest region pays too (``LOW_COST``): cut off, a 9's detached tail
or a 4's stem reads as a sure 1. The other way round, two neighbouring regions close and
narrow enough to be one digit are also read together, and kept together when that scores
much better (a 0 drawn in two strokes, ( ), read 67 before): a 1 with a flag or a foot
looks unlike the training digits, and read whole with its neighbour it was lost ("16" read
6). A line written uphill or downhill, its digits upright, is also read levelled (each
column moved by the slope fitted to the middle of its ink) and the surer reading is taken:
sloping, digits that touch make a blob taller than a digit, and a piece holding two of
them escapes the cost of a short piece ("4416" read 446).
Figures: ``benchmarks/robustness.py``.
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable

import cv2
import numpy as np

from classifier.digits import clean_ink, mnist_digit
from classifier.image import BlankImageError

MAX_DIGITS = 12
SHORT = 0.45         # a region under this fraction of the tallest one is part of a digit
# Chosen on numbers built from MNIST test digits (150 each, seeds apart from the benchmark's):
# with the score cost, touching 94.7% right (22.5% without), apart 98.7%, broken 98.0%, one
# drawn digit 98.7%; with a split prior of 0.5 or a cost of 6, touching 93-95% but one digit
# 97.3% or apart 98.7%.
MAY_HOLD_TWO = 0.7   # a region wider than this (times the tallest height) may be 2+ digits
# A narrower region that reads unsurely as one digit may be a 1 touching its neighbour.
# Chosen on seeds 1 and 2 (1,200 MNIST numbers: 96.9 -> 97.3% right, one drawn digit
# unchanged); a margin of 0 or 1 split more single digits. The sure floor keeps letters with
# a stem whole (warned about: 73.3% of letters, 69.0% without it; their cut readings scored
# -5.1 and below, the close pairs' -2.0 to -2.4). README: "A 1 that touches its neighbour".
NARROW_PAIR = 0.45   # from this width (times the height) a region is read cut too when
UNSURE = -3.0        # whole it scores under this, and the cut reading is taken when it
NARROW_MARGIN = 2.0  # scores this much better
SURE = -4.0          # and at least this
# Digits drawn close and slanted overlap. When the upright reading of a wide region scores
# under SLANT_BELOW per piece, cuts leaning by each of SLANTS are tried too, and a leaning
# reading is taken when it scores at least SLANT_SURE per piece and SLANT_MARGIN better.
# Chosen on drawn 2-4 digit numbers 0-0.12 of their height apart (seeds 52-54, 300: 68.3 ->
# 74.7% right) and 2,000 canvas drawings read as numbers (seed 5: no more read as several
# digits); held out (README), those 0-0.2 apart 81.0 -> 84.0%, MNIST numbers level or up.
SLANTS = (0.0, 0.15, -0.15)
SLANT_BELOW = -2.0
SLANT_SURE = -3.0
SLANT_MARGIN = 2.0
APART = 30.0         # degrees: two 1s cut from one region, leaning apart by more, each
LEAN_EACH = 8.0      # its own way by at least this, are a V, a Y or a tick, not 11
# Chosen on 400 font letters and 300 pairs of MNIST 1s (seeds 41, 43) and drawn "11"s; the
# each-its-own-way condition after one touching "711" of the benchmark's seed, a 1 leaning
# 35 degrees beside an upright one, was lost; then 35 -> 30 for a triangle (32.6 apart),
# no benchmark number read differently. README: "Not a number".
SPLIT_PRIOR = 1.0    # log-probability each extra digit must earn (no split on a whim)
WIDE_FROM = 0.9      # a piece wider than this (times the height) pays WIDE_COST per unit
WIDE_COST = 6.0      # of width beyond it: few digits are that wide (was from 1.1: a 1
#                      touching a 9 was read as one wide 9; tuning seeds, README)
ODD_FROM = 0.4       # out-of-distribution score / threshold above which a piece pays,
ODD_COST = 10.0      # this much log-probability per unit of it
# Chosen on two tuning seeds (900 numbers: 97.3 -> 98.0% right; one drawn digit 99.3 ->
# 99.7%); held out, the benchmark's seed 96.0 -> 96.4% and two more 97.7 -> 97.6% (README):
LOW_FROM = 0.8       # a piece shorter than this (times the tallest region) pays, per unit
LOW_COST = 10.0      # short of it: a digit is about as tall as the line it stands in
# Chosen on numbers drawn with the page's pen (training/handwriting.py) and built from MNIST
# digits, tuning seeds 5 and 6 (600 and 900 numbers): 91.8 -> 96.8% and 98.0 -> 97.9% right
# with both, 97.0% and 98.2% with WIDE_FROM 0.9; held out (seeds 7 and 8) 94.0 -> 96.0% and
# 97.6 -> 97.8% with all three (README).
HOLE = 0.1           # a loop this wide or tall (times the height) is part of one digit,
HOLE_WIDE = 0.5      # unless it is wider than this: then two touching digits close it in
JOIN_GAP = 0.2       # neighbouring regions this close (times the height) and together
JOIN_WIDE = 1.1      # no wider than this may be one digit drawn with a pen lift,
JOIN_COST = 5.0      # read whole if that scores this much better than apart (was 1)
LEVEL_WIDE = 1.2     # a line this much wider than tall, climbing or falling by at least
LEVEL_FROM = 0.05    # this and at most this (rows per column; steeper, a scribble), is
LEVEL_MOST = 0.3     # also read levelled, and the surer reading is taken


def read_digits(rgba: np.ndarray, judge: Callable[[np.ndarray], tuple]):
    """(uint8 (n, 28, 28) digit images, (n, classes) probabilities, (n,) out-of-distribution
    scores or None), left to right. ``judge`` maps a uint8 (k, 28, 28) batch to ((k,
    classes) probabilities, (k,) how unlike a digit each is, as a distance score over its
    threshold, or None, (k,) the model's out-of-distribution scores, or None)."""
    ink = clean_ink(rgba)
    reading = _read_line(ink, judge)
    slope = _line_slope(ink)
    if LEVEL_FROM <= abs(slope) <= LEVEL_MOST:  # written uphill or downhill: read levelled too
        levelled = _read_line(_levelled(ink, slope), judge)
        reading = max(reading, levelled, key=lambda r: r[3])
    images, probs, scores, _ = reading
    if len(images) > MAX_DIGITS:
        raise BlankImageError(f"More than {MAX_DIGITS} separate marks: write one number, "
                              "its digits side by side.")
    return np.stack(images), np.stack(probs), None if None in scores else np.array(scores)


def _read_line(ink: np.ndarray, judge):
    """(digit images, probabilities, out-of-distribution scores, score) of the best reading
    of a line of ink: its regions read one by one, neighbours also together."""
    regions, height = digit_regions(ink)
    if len(regions) > 2 * MAX_DIGITS:  # even joined in pairs, too many digits: read none
        raise BlankImageError(f"More than {MAX_DIGITS} separate marks: write one number, "
                              "its digits side by side.")
    readings = [_best_reading(region, left, right, height, judge)
                for region, left, right in regions]
    best = {0: (0.0, [])}  # regions read so far -> (score, their readings): as in the cuts
    for n in range(1, len(regions) + 1):
        score, chosen = best[n - 1]
        options = [(score + readings[n - 1][3], chosen + [readings[n - 1]])]
        if n >= 2 and _may_be_one(regions[n - 2], regions[n - 1], height):
            (a, left, _), (b, _, right) = regions[n - 2], regions[n - 1]
            joined = _best_reading(np.maximum(a, b), left, right, height, judge, whole=True)
            score, chosen = best[n - 2]
            options.append((score + joined[3] - JOIN_COST, chosen + [joined]))
        best[n] = max(options, key=lambda o: o[0])
    score, chosen = best[len(regions)]
    return ([im for r in chosen for im in r[0]], [p for r in chosen for p in r[1]],
            [u for r in chosen for u in r[2]], score)


def _line_slope(ink: np.ndarray) -> float:
    """How steeply a line of ink climbs (negative) or falls, rows per column: the slope of
    the middle of each column's ink, fitted across a line at least LEVEL_WIDE times as wide
    as it is tall; 0 for anything narrower (one digit)."""
    mask = ink > 0.25
    counts = mask.sum(0)
    cols, rows = np.flatnonzero(counts), np.flatnonzero(mask.any(1))
    if cols.size < 2 or cols[-1] - cols[0] + 1 < LEVEL_WIDE * (rows[-1] - rows[0] + 1):
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
    return b[1] - a[2] <= JOIN_GAP * height and b[2] - a[1] <= JOIN_WIDE * height


def _best_reading(region, left, right, height, judge, whole=False, from_width=None):
    """(digit images, probabilities, out-of-distribution scores (or Nones), score): the
    region read as the sequence of pieces (between candidate cuts; ``whole``: none) whose
    joint probability, less a prior for each extra digit, for pieces wider than a digit,
    shorter than the line and unlike the training digits, is highest. The cuts are looked
    for upright and leaning (``SLANTS``), and the best of those readings wins: digits drawn
    close and slanted overlap, and no upright column runs between them. ``from_width``:
    look for cuts from this width (times the height), not ``MAY_HOLD_TWO``."""
    rows = np.flatnonzero(region.any(1))  # the region alone: its pieces are cut many times
    region, left, right = region[rows[0]:rows[-1] + 1, left:right], 0, right - left
    if whole:
        return _read_cuts(region, [left, right], 0.0, height, judge)
    if from_width is None and right - left < MAY_HOLD_TWO * height:
        # one digit, or a 1 touching its neighbour
        one = _best_reading(region, left, right, height, judge, whole=True)
        if right - left < NARROW_PAIR * height or one[3] >= UNSURE:
            return one
        cut = _best_reading(region, left, right, height, judge, from_width=NARROW_PAIR)
        return cut if cut[3] >= SURE and cut[3] > one[3] + NARROW_MARGIN else one
    readings = []
    for slant in SLANTS:
        sheared, lo, hi = _sheared(region, left, right, slant)
        cuts = _cut_candidates(sheared, lo, hi, height, from_width or MAY_HOLD_TWO)
        reading = _read_cuts(region, cuts, slant, height, judge)
        if not readings or (reading[3] >= SLANT_SURE * len(reading[0])
                            and reading[3] > readings[0][3] + SLANT_MARGIN):
            readings.append(reading)  # a leaning reading only when it reads surely
        if not slant and reading[3] >= SLANT_BELOW * len(reading[0]):
            break  # read surely upright
    return max(readings, key=lambda r: r[3])


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
        too_wide = max(0.0, (cuts[j] - cuts[i]) / height - WIDE_FROM)
        unlike = 0.0 if odd is None else max(0.0, float(odd[k]) - ODD_FROM)
        score[i, j] = (float(np.log(p[k].max() + 1e-9)) - SPLIT_PRIOR - WIDE_COST * too_wide
                       - ODD_COST * unlike - LOW_COST * max(0.0, LOW_FROM - tall[k]))
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
    return ([pieces[k] for k in chosen], [p[k] for k in chosen],
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
    own way, by at least LEAN_EACH, and by more than APART degrees together."""
    return left * right < 0 and min(abs(left), abs(right)) >= LEAN_EACH \
        and abs(left - right) > APART


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


def _cut_candidates(region, left, right, height, from_width=MAY_HOLD_TWO) -> list[int]:
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
    ink closes in (a 0's or 8's, a closed 4's), at least HOLE of the height across and at
    most HOLE_WIDE wide (wider, two touching digits close it in)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8),
                                                      connectivity=4)
    h, w = mask.shape
    inside = np.zeros(w, bool)
    for x, y, bw, bh, _ in stats[1:]:
        if x > 0 and y > 0 and x + bw < w and y + bh < h and max(bw, bh) >= HOLE * height \
                and bw <= HOLE_WIDE * height:
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
    if len(keep) > 4 * MAX_DIGITS:
        raise BlankImageError(f"More than {MAX_DIGITS} separate marks: write one number, "
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
        short = [i for i, b in enumerate(boxes) if b[3] - b[2] < SHORT * tallest]
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
