"""``make demo``: a tracked training on a real dataset, then what was recorded.

The data is scikit-learn's bundled breast-cancer set (569 real diagnostic cases, 30
numeric features, installed with scikit-learn, no download): a binary classification
of the size most small teams work with. Three candidate models are trained and
tracked; the demo then searches the runs and prints how to look at them.

Run with ``python -m prodline.demo [--home FOLDER]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Train and track candidate models, then show what was recorded."""
    parser = argparse.ArgumentParser(prog="python -m prodline.demo", description=__doc__)
    parser.add_argument("--home", default=".prodline", help="prodline home folder")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, log_loss, roc_auc_score, roc_curve
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import prodline

    console = Console()
    prodline.init(home=args.home)
    home = prodline.settings().home
    console.rule("[bold]prodline demo: tracked, reproducible experiments")
    console.print(f"home folder: [cyan]{home}[/] (metadata in prodline.db, blobs in artifacts/)")

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    train, test = train_test_split(frame, test_size=0.3, random_state=7, stratify=frame["target"])
    features = [c for c in frame.columns if c != "target"]
    candidates = {
        "logistic": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)
        ),
        "random-forest": lambda: RandomForestClassifier(
            n_estimators=100, max_depth=6, random_state=0
        ),
        "gradient-boosting": lambda: GradientBoostingClassifier(n_estimators=80, random_state=0),
    }
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training candidates", total=len(candidates))
        for name, build in candidates.items():
            with prodline.start_run(experiment="breast-cancer", name=name) as run:
                run.log_dataset(train, name="breast-cancer-train", role="train")
                run.log_dataset(test, name="breast-cancer-test", role="eval")
                model = build()
                run.log_params({k: v for k, v in model.get_params().items() if _plain(v)})
                model.fit(train[features], train["target"])
                if hasattr(model, "staged_predict_proba"):
                    for step, proba in enumerate(model.staged_predict_proba(test[features])):
                        run.log_metric("eval_log_loss", log_loss(test["target"], proba), step=step)
                proba = model.predict_proba(test[features])[:, 1]
                run.log_metrics(
                    {
                        "f1": f1_score(test["target"], proba > 0.5),
                        "roc_auc": roc_auc_score(test["target"], proba),
                        "log_loss": log_loss(test["target"], proba),
                    }
                )
                figure, axes = plt.subplots(figsize=(4, 4))
                fpr, tpr, _ = roc_curve(test["target"], proba)
                axes.plot(fpr, tpr)
                axes.set(
                    title=f"ROC: {name}", xlabel="false positive rate", ylabel="true positive rate"
                )
                run.log_figure(figure, "roc.png")
                plt.close(figure)
            progress.advance(task)

    runs = prodline.search_runs(
        "breast-cancer", filter="metrics.roc_auc > 0.9", order_by=["metrics.f1 DESC"]
    )
    table = Table(title="runs with roc_auc > 0.9, best f1 first")
    for column in ("run", "name", "f1", "roc_auc", "log_loss", "artifacts"):
        table.add_column(column)
    for record in runs:
        full = prodline.get_run(record.id)
        table.add_row(
            record.id[:8],
            record.name,
            f"{record.metrics['f1']:.4f}",
            f"{record.metrics['roc_auc']:.4f}",
            f"{record.metrics['log_loss']:.4f}",
            ", ".join(a.path for a in full.artifacts),
        )
    console.print(table)
    dataset = prodline.get_dataset("breast-cancer-train")
    console.print(
        f"dataset [bold]{dataset.name}[/] v{dataset.version}: {dataset.record.n_rows} rows, "
        f"{dataset.record.n_cols} columns, fingerprint {dataset.fingerprint[:12]}, "
        f"used by {len(dataset.record.used_by)} runs (stored once)"
    )
    best = runs[0]
    prefix = f"PRODLINE_HOME={_shell_path(home)} " if Path(args.home) != Path(".prodline") else ""
    console.print("\n[bold]Look at what was recorded:[/]")
    for command in (
        "prodline experiments list",
        "prodline runs list -e breast-cancer -o 'metrics.f1 DESC'",
        f"prodline runs show {best.id[:8]}",
        f"prodline runs compare {' '.join(r.id[:8] for r in runs[:3])}",
        "prodline datasets show breast-cancer-train",
        'prodline runs list --filter "metrics.roc_auc > 0.99" --json',
    ):
        console.print(f"  {prefix}.venv/bin/{command}")
    return 0


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _shell_path(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


if __name__ == "__main__":
    raise SystemExit(main())
