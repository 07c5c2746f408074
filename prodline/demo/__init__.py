"""``make demo``: the whole value chain on scikit-learn's bundled breast-cancer data.

Why this dataset: it ships inside scikit-learn (already a prodline dependency), so the
demo needs no download; it is real (569 diagnostic cases, 30 measurements of cell
nuclei from digitised biopsy images); and it is the size and shape of most small-team
problems — a binary decision on a table that fits in memory. The production shift the
demo replays is grounded in the data: a screening programme starts referring earlier,
mid-sized lesions (mean radius 12.5–16.5), where benign and malignant cases overlap,
so that sub-population becomes far more frequent and the models trained on the
historical referral mix get worse exactly where it matters.

Run ``python -m prodline.demo`` (``--quick`` for the shortened run the tests use).
"""
