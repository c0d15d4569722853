"""Figures whose content follows the model, and the HTML report checked in a real browser."""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from mixfit import plots
from tests.conftest import TEN_FLIPS, THREE_COINS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MIXFIT_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))


def three_coins(max_iter=1000):
    m = mf.Mixture(
        mf.Binomial(n_trials=10),
        3,
        weights_init=[0.25, 0.5, 0.25],
        params_init={"p": [0.4, 0.5, 0.65]},
        max_iter=max_iter,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mf.ConvergenceWarning)
        return m.fit(THREE_COINS)


def pixels(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="rgba", dpi=50)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def test_convergence_plot_draws_the_history():
    m = three_coins()
    (line,) = plots.plot_convergence(m).axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), m.history_["log_likelihood"])


@pytest.mark.parametrize(
    ("family", "panels"),
    [
        (mf.Gaussian("diag"), {"mean": 4, "variance": 4}),  # K = 2 components x D = 2 columns each
        (mf.Gaussian("spherical"), {"mean": 4, "variance": 2}),
        (mf.Gaussian("full"), {"mean": 4}),  # covariance matrices are not drawn
        (mf.Poisson(), {"rate": 4}),
    ],
    ids=["diag", "spherical", "full", "poisson"],
)
def test_trajectories_draw_every_declared_parameter_kind_on_its_own_axis(family, panels):
    rng = np.random.default_rng(5)
    X = np.r_[rng.poisson([1, 2], (100, 2)), rng.poisson([8, 9], (100, 2))].astype(float)
    m = mf.Mixture(family, 2, random_state=0).fit(X)
    axes = plots.plot_trajectories(m).axes
    assert [ax.get_title() for ax in axes] == ["weights", *(f"{k} (colour = component)" for k in panels)]
    assert [len(ax.get_lines()) for ax in axes[1:]] == list(panels.values())
    name = next(iter(m.params_))  # the first panel's lines are that parameter's history columns
    np.testing.assert_array_equal(axes[1].get_lines()[0].get_ydata(), m.history_[f"{name}[0,0]"])


def test_elbo_plot_shows_touching_bound_and_kl_gap():
    with pytest.warns(mf.IdentifiabilityWarning):
        m = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.3, 0.7], params_init={"p": [[0.6], [0.8]]}).fit(TEN_FLIPS)
    ax = plots.plot_elbo(m).axes[0]
    ll, elbo, after_m = ax.get_lines()[:3]
    assert ll.get_ydata()[0] == pytest.approx(-9.28686, abs=1e-5)
    np.testing.assert_allclose(elbo.get_ydata(), ll.get_ydata(), atol=1e-12)  # KL = 0 after the E-step
    gaps = ax.collections[0].get_segments()
    assert gaps and all(seg[1, 1] >= seg[0, 1] - 1e-12 for seg in gaps)  # log-likelihood above the bound
    assert after_m.get_ydata()[0] == pytest.approx(m.history_["elbo_after_m"].iloc[0])


def test_fit_plot_bars_are_the_observed_counts_and_lines_the_fitted_ones():
    m = three_coins()
    ax = plots.plot_fit(m, THREE_COINS).axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [0, 0, 4, 2, 5, 5, 4, 0, 0, 0, 0]
    fitted = ax.get_lines()[0].get_ydata()
    assert fitted.sum() == pytest.approx(20, abs=1e-6)
    np.testing.assert_allclose(fitted, 20 * np.exp(m.score_samples(np.arange(11))), rtol=1e-12)


def test_figures_change_with_the_model():
    one, two = three_coins(max_iter=1), three_coins()
    for name in ("trajectories", "profiles", "responsibilities", "fit"):
        a = pixels(plots.all_figures(one, THREE_COINS)[name])
        b = pixels(plots.all_figures(two, THREE_COINS)[name])
        assert a.shape == b.shape and np.any(a != b), name


def test_profiles_and_responsibilities_hold_the_parameters():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=2, random_state=0).fit(survey)
    lines = plots.plot_profiles(m).axes[0].get_lines()
    for k, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_ydata(), m.params_["p"][k])
    ax = plots.plot_responsibilities(m, survey).axes[0]
    tops = np.array([bar.get_y() + bar.get_height() for bar in ax.patches]).reshape(3, -1)
    np.testing.assert_allclose(tops[-1], 1.0)


# ----------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, which the set-up installs (`make test-all`, `make browser`); a test never
    installs anything itself."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser test needs {CHROMIUM}: run 'make browser' as root or 'sudo apt-get install chromium'")
    return CHROMIUM


def open_in_browser(chromium: str, path: Path, screenshot: str) -> tuple[list[str], list[list[Any]], str]:
    """``(errors, images as [alt, complete, width, height], the page's text)`` of a report opened
    in headless Chromium, with a full-page screenshot kept under test-artifacts/."""
    from playwright.sync_api import sync_playwright

    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.resolve().as_uri())
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.naturalHeight])"
        )
        text = page.inner_text("body")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        browser.close()
    return errors, images, text


@pytest.mark.browser
def test_report_renders_in_a_real_browser(chromium, tmp_path):
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=2, random_state=0).fit(survey)
    path = m.report(survey, tmp_path / "report.html", command="mixfit fit survey.csv -f bernoulli -k 3")
    errors, images, text = open_in_browser(chromium, path, "report.png")
    assert errors == []
    # no ELBO picture in a data report; binary items add the bivariate residuals' heat map
    assert len(images) == 7 and all(done and w > 0 and h > 0 for _, done, w, h in images)
    assert [alt for alt, *_ in images][-1] == "bivariate residuals"
    assert f"{m.log_likelihood_:.6f}" in text
    assert f"{m.weights_[0]:.6f}" in text
    assert "mixfit fit survey.csv -f bernoulli -k 3" in text
    assert all(message.split(": ", 1)[1] in text for message in m.fit_warnings_)  # every warning, visible
    quality = mf.diagnostics.classification_quality(m, survey)
    assert f"Entropy R² = {quality.entropy_r2:.4f}" in text
    se = m.standard_errors(survey).params["p"][0, 0]
    assert f"{m.params_['p'][0, 0]:.6f} ({se:.4f})" in text  # each estimate beside its standard error
    assert "Every estimate with its 95% interval" in text and "Pearson X²" in text
    assert "bright diagonal" in text  # the classification figure's caption
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


@pytest.mark.browser
def test_a_covariate_models_report_renders_in_a_real_browser(chromium, tmp_path):
    rng = np.random.default_rng(3)
    age = rng.normal(size=300)
    items = (rng.random((300, 4)) < np.where((age + rng.normal(size=300) > 0)[:, None], 0.85, 0.15)).astype(int)
    X, Z = pd.DataFrame(items, columns=["q1", "q2", "q3", "q4"]), pd.DataFrame({"age": age})
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z)
    path = m.report(X, tmp_path / "covariates.html", command="mixfit fit d.csv --covariates age", covariates=Z)
    errors, images, text = open_in_browser(chromium, path, "report-covariates.png")
    assert errors == []
    assert "prevalence" in [alt for alt, *_ in images] and all(done and w > 0 for _, done, w, _ in images)
    assert "odds ratio" in text and f"{np.exp(m.covariate_coef_[1, 1]):.4f}" in text


def test_report_states_warnings_in_plain_words(tmp_path):
    with pytest.warns(mf.IdentifiabilityWarning):
        m = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.3, 0.7], params_init={"p": [[0.6], [0.8]]}).fit(TEN_FLIPS)
    text = m.report(TEN_FLIPS, tmp_path / "r.html", tutorial=True).read_text()  # a worked example: the ELBO too
    assert "Not identifiable" in text and "only P(x=1)" in text
    assert text.count("data:image/png;base64,") == 7 and "http" not in text.split("<body>")[1]


def test_report_shows_every_warning_the_fit_raised(tmp_path):
    """The three coins fit warns that its information matrix is rank deficient (seed 001's
    example is not locally identified at the estimate); the report says so, not "None"."""
    with pytest.warns(mf.IdentifiabilityWarning, match="rank 2 < 5") as raised:
        m = three_coins()
    assert m.fit_warnings_ == [f"IdentifiabilityWarning: {w.message}" for w in raised]
    text = m.report(THREE_COINS, tmp_path / "r.html", tutorial=True).read_text()  # a worked example: the ELBO too
    warnings_section = text.split('<h2 id="warnings">Warnings</h2>')[1].split("<h2")[0]
    assert "Not identifiable: the information matrix has rank 2 &lt; 5 free parameters" in warnings_section
    assert "None." not in warnings_section
    quality = text.split('<h2 id="classification">Classification</h2>')[1].split("<h2")[0]
    r2 = mf.diagnostics.classification_quality(m, THREE_COINS).entropy_r2
    assert f"Entropy R&sup2; = {r2:.4f}" in quality and quality.count("<table") == 2
    assert all(f'href="#{section}"' in text for section in ("warnings", "classification", "goodness-of-fit"))
    estimates = text.split('<h2 id="parameters">')[1].split("<h2")[0]
    # every estimate in Mixture.summary's names and columns (z, p, interval, note)
    assert "<th>lower</th>" in estimates and re.search(r"rank [0-4] &lt; 5 free parameters", estimates)
    assert "not meaningful" in estimates  # the observed information is singular there too
    assert "Pearson X²" in text  # binomial counts are discrete: the goodness of fit is shown
    assert text.count("<figcaption><strong>") == 7 and "KL gap" in text


def _gaussian_rows(d: int) -> np.ndarray:
    rng = np.random.default_rng(8)
    return np.r_[rng.normal(0, 1, (150, d)), rng.normal(5, 1.5, (150, d))]


def test_gaussian_fit_plot_in_one_column_is_the_histogram_and_the_mixture_density():
    X = _gaussian_rows(1)
    m = mf.Mixture(mf.Gaussian("diag"), 2, random_state=0).fit(X)
    ax = plots.plot_fit(m, X).axes[0]
    heights = np.array([bar.get_height() for bar in ax.patches])
    widths = np.array([bar.get_width() for bar in ax.patches])
    assert heights @ widths == pytest.approx(1.0)  # a density histogram of every row
    mixture, *components = ax.get_lines()
    assert len(components) == 2
    np.testing.assert_allclose(mixture.get_ydata(), sum(c.get_ydata() for c in components), rtol=1e-12)
    grid = mixture.get_xdata()  # the density is the model's own
    np.testing.assert_allclose(mixture.get_ydata(), np.exp(m.score_samples(grid[:, None])), rtol=1e-9)


def test_gaussian_fit_plot_in_two_columns_colours_rows_and_draws_ellipses():
    X = _gaussian_rows(2)
    m = mf.Mixture(mf.Gaussian("full"), 2, random_state=0).fit(X)
    ax = plots.plot_fit(m, X).axes[0]
    points = [c.get_offsets() for c in ax.collections]
    assert len(points) == 2 and sum(len(p) for p in points) == len(X)
    lo, hi = ax.get_xlim()
    assert all(lo < mean < hi for mean in m.params_["mean"][:, 0])  # every mean on the chart
    assert len(ax.get_lines()) == 2 * 3  # per component: the mean and two ellipses


def test_poisson_fit_plot_counts_every_value_and_profiles_use_their_own_axes():
    rng = np.random.default_rng(9)
    X = np.r_[rng.poisson(1, 150), rng.poisson(8, 150)][:, None]
    m = mf.Mixture(mf.Poisson(), 2, random_state=0).fit(X)
    ax = plots.plot_fit(m, X).axes[0]
    bars = np.array([bar.get_height() for bar in ax.patches])
    assert len(bars) == X.max() + 1 and bars.sum() == len(X)
    np.testing.assert_array_equal(bars, np.bincount(X[:, 0]))
    below = plots.plot_fit(m, X).axes[1]  # the residual panel holds the outcomes' labels
    assert [t.get_text() for t in below.get_xticklabels()][:3] == ["0", "1", "2"]  # counts, not floats
    (profile,) = plots.plot_profiles(m).axes
    assert profile.get_ylabel() == "rate" and profile.get_ylim()[1] > m.params_["rate"].max()
    gaussian = mf.Mixture(mf.Gaussian("full"), 2, random_state=0).fit(_gaussian_rows(2))
    means, variances = plots.plot_profiles(gaussian).axes
    assert (means.get_ylabel(), variances.get_ylabel()) == ("mean", "variance")
    np.testing.assert_array_equal(variances.get_lines()[0].get_ydata(), np.diag(gaussian.params_["covariance"][0]))


def test_pattern_plots_say_how_many_patterns_they_show():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=2, random_state=0).fit(survey)
    n_patterns = len(survey.drop_duplicates())
    title = plots.plot_fit(m, survey).axes[0].get_title()
    assert f"the {plots.MAX_PATTERNS} most frequent of {n_patterns} patterns" in title


def test_elbo_plot_draws_every_iteration_or_says_how_many():
    m = three_coins()
    ax = plots.plot_elbo(m).axes[0]
    ll, _, after_m = ax.get_lines()[:3]
    assert len(ll.get_xdata()) == m.n_iter_ + 1 and after_m.get_xdata().max() <= m.n_iter_
    assert "first" not in ax.get_title() and ax.get_ylabel() == "log-likelihood and ELBO (nats)"
    short = plots.plot_elbo(m, max_iterations=5).axes[0]
    assert f"(first 5 of {m.n_iter_} iterations)" in short.get_title()
    assert short.get_lines()[2].get_xdata().max() == 5  # no marker past the last iteration shown
    assert all(float(t).is_integer() for t in short.get_xticks())


def test_names_with_dollar_signs_are_drawn_literally():
    """A column named like a broken TeX formula crashed every figure (matplotlib's mathtext)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"$x^{2$": rng.integers(0, 2, 100), "b": rng.integers(0, 2, 100), "c": rng.integers(0, 2, 100)})
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X)
    for fig in plots.all_figures(m, X).values():
        pixels(fig)  # draws without error
    assert plots.plot_profiles(m).axes[0].get_xticklabels()[0].get_text() == r"\$x^{2\$"


def test_a_weighted_table_reports_as_its_expanded_rows(tmp_path):
    """A frequency table with its counts as sample_weight gives the report of the expanded rows:
    fit criteria, classification, estimates and goodness of fit (report, plots and all)."""
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    table = survey.value_counts().reset_index(name="count")
    patterns, counts = table.drop(columns="count"), table["count"].to_numpy()
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=2, random_state=0).fit(patterns, sample_weight=counts)
    weighted = m.report(patterns, tmp_path / "w.html", sample_weight=counts).read_text()
    expanded = m.report(patterns.loc[patterns.index.repeat(counts)], tmp_path / "e.html").read_text()

    def section(text: str, name: str) -> str:
        return text.split(f'<h2 id="{name}">')[1].split("<h2")[0]

    for name in ("fit", "classification", "parameters", "goodness-of-fit"):
        assert section(weighted, name) == section(expanded, name), name
    assert "rows counted with their frequency weights" in section(weighted, "data")


def test_profiles_mark_probabilities_on_the_boundary():
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, 400)
    X = np.column_stack([z, (rng.random((400, 4)) < np.where(z[:, None] == 1, 0.8, 0.2))]).astype(int)
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X)  # item 0 separates the classes exactly
    ax = plots.plot_profiles(m).axes[0]
    (marks,) = [line for line in ax.get_lines() if line.get_label() == "on the boundary (0 or 1)"]
    np.testing.assert_array_equal(marks.get_xdata(), [0, 0])  # item 0, in both classes
    assert sorted(np.round(marks.get_ydata(), 6).tolist()) == [0.0, 1.0]


def test_a_single_categorical_column_is_plotted_as_patterns():
    """Only count families have a value support; one column of levels stays a pattern plot."""
    X = pd.DataFrame({"answer": np.random.default_rng(1).choice(["no", "maybe", "yes"], 200)})
    m = mf.Mixture(mf.Categorical(), 2, random_state=0).fit(X)
    ax, below = plots.plot_fit(m, X).axes
    assert sorted(t.get_text() for t in below.get_xticklabels()) == ["maybe", "no", "yes"]
    assert sum(bar.get_height() for bar in ax.patches) == 200


def test_fit_plot_shows_standardized_residuals_that_flag_a_missing_component():
    """Three coins fitted with one component: the residual panel is (observed - fitted) /
    sqrt(fitted) per outcome, and the outcomes the single binomial misses stand out."""
    one = mf.Mixture(mf.Binomial(n_trials=10), 1).fit(THREE_COINS)
    ax, below = plots.plot_fit(one, THREE_COINS).axes
    observed = np.array([bar.get_height() for bar in ax.patches])
    fitted = ax.get_lines()[0].get_ydata()
    residuals = np.array([bar.get_height() for bar in below.patches])
    np.testing.assert_allclose(residuals, (observed - fitted) / np.sqrt(fitted), rtol=1e-12)
    assert below.get_ylabel() == "standardized residual"
    assert re.search(r"(\d+) of 11 beyond 2", below.get_title())
    three = three_coins()
    worst_one = np.abs(residuals).max()
    three_bars = [bar.get_height() for bar in plots.plot_fit(three, THREE_COINS).axes[1].patches]
    assert np.abs(three_bars).max() < worst_one  # three coins fit the counts better than one


def test_classification_figure_is_the_mplus_table():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 3, n_init=2, random_state=0).fit(survey)
    quality = mf.diagnostics.classification_quality(m, survey)
    (ax, _colorbar) = plots.plot_classification(m, survey).axes
    np.testing.assert_allclose(ax.get_images()[0].get_array(), quality.table.to_numpy())
    cells = [t.get_text() for t in ax.texts]
    assert cells[0] == f"{quality.table.iloc[0, 0]:.2f}" and len(cells) == 9
    assert f"{quality.entropy_r2:.3f}" in ax.get_title()
    modal = quality.sizes["modal size"].to_numpy()
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"c_{i + 1} ({modal[i]:g} rows)" for i in range(3)]


def test_responsibilities_of_continuous_data_are_drawn_row_by_row():
    """Gaussian rows are not outcomes: every row's responsibilities, sorted by most likely
    component, stacked to 1 (before: bars of the 30 most frequent float rows)."""
    X = _gaussian_rows(1)
    m = mf.Mixture(mf.Gaussian("diag"), 2, random_state=0).fit(X)
    ax = plots.plot_responsibilities(m, X).axes[0]
    layers = [collection.get_paths()[0].vertices[:, 1].max() for collection in ax.collections]
    assert len(ax.collections) == 2 and max(layers) == pytest.approx(1.0)
    assert ax.get_ylabel() == "p(component | row)" and "most likely component" in ax.get_xlabel()
    assert ax.get_xlim() == (-0.5, len(X) - 0.5)


def test_each_part_of_an_independent_model_is_drawn_by_its_own_family():
    """Independent(Bernoulli item, Gaussian column): besides the pattern plot, each part's fit
    plot; the Gaussian part's is the histogram with the mixture of its own densities (the
    marginal of that column), the item's the frequencies of 0 and 1."""
    rng = np.random.default_rng(4)
    first = rng.random(400) < 0.4
    frame = pd.DataFrame(
        {"flag": (rng.random(400) < np.where(first, 0.2, 0.8)).astype(int), "h": rng.normal(np.where(first, 0, 3), 1)}
    )
    m = mf.Mixture(mf.Independent({("flag",): mf.Bernoulli(), ("h",): mf.Gaussian("diag")}), 2, random_state=0).fit(
        frame
    )
    figures = plots.all_figures(m, frame)
    assert [name for name in figures if name.startswith("fit")] == ["fit", "fit: flag", "fit: h"]
    ax = figures["fit: h"].axes[0]
    grid, density = ax.get_lines()[0].get_data()
    mean, variance = m.params_["h.mean"][:, 0], m.params_["h.covariance"][:, 0]
    from scipy import stats

    expected = sum(
        w * stats.norm(mu, np.sqrt(v)).pdf(grid) for w, mu, v in zip(m.weights_, mean, variance, strict=True)
    )
    np.testing.assert_allclose(density, expected, rtol=1e-10)
    bars = [bar.get_height() for bar in figures["fit: flag"].axes[0].patches]
    assert bars == [int((frame["flag"] == 0).sum()), int((frame["flag"] == 1).sum())]


def test_plots_of_parts_get_safe_file_names_and_a_full_gaussian_part_its_variances(tmp_path, capsys):
    """A part named by a column '../flag' is written as fit_flag.png inside --plots (never
    outside it); a full-covariance Gaussian part's profile shows its own variances (it crashed:
    the covariance was reshaped with every column of the data)."""
    from mixfit.cli import main

    rng = np.random.default_rng(4)
    first = rng.random(300) < 0.4
    frame = pd.DataFrame(
        {
            "../flag": (rng.random(300) < np.where(first, 0.2, 0.8)).astype(int),
            "h": rng.normal(np.where(first, 0, 3), 1),
        }
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(SystemExit) as done:
        main(
            [
                "fit",
                str(tmp_path / "d.csv"),
                "-f",
                "../flag=bernoulli;h=gaussian",
                "-k",
                "2",
                "--plots",
                str(tmp_path / "pl"),
            ]
        )
    assert done.value.code == 0, capsys.readouterr().err
    assert {"fit_flag.png", "fit_h.png", "profiles.png", "classification.png"} <= {
        p.name for p in (tmp_path / "pl").iterdir()
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "pl"]
    m = mf.Mixture(mf.Independent({("../flag",): mf.Bernoulli(), ("h",): mf.Gaussian("full")}), 2, random_state=0).fit(
        frame
    )
    variances = plots.plot_profiles(m).axes[-1]
    assert [t.get_text() for t in variances.get_xticklabels()] == ["var(h)"]
    np.testing.assert_allclose(variances.get_lines()[0].get_ydata(), m.params_["h.covariance"][0].ravel())


def test_profiles_circle_the_estimates_that_are_not_identified():
    """Three coins of 10 flips with three components: the information has rank 2 < 5 (seed 001's
    example is not identified); with the data, the profile circles the probabilities that move
    along the flat directions; an identified two-class survey fit circles none."""
    m = three_coins()
    marks = mf.diagnostics.unidentified_entries(m, THREE_COINS)
    assert marks["p"].any()
    ax = plots.plot_profiles(m, THREE_COINS).axes[0]
    circled = [line for line in ax.get_lines() if line.get_label() == "not locally identified"]
    assert len(circled) == 1 and len(circled[0].get_xdata()) == int(marks["p"].sum())
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    two = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(survey)
    assert mf.diagnostics.unidentified_entries(two, survey) == {}
    labels = [line.get_label() for line in plots.plot_profiles(two, survey).axes[0].get_lines()]
    assert "not locally identified" not in labels


def test_report_puts_each_estimate_beside_its_standard_error(tmp_path):
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(survey)
    errors = m.standard_errors(survey)
    text = m.report(survey, tmp_path / "r.html").read_text()
    first = f"{m.params_['p'][0, 0]:.6f} ({errors.params['p'][0, 0]:.4f})"
    weight = f"{m.weights_[1]:.6f} ({errors.weights[1]:.4f})"
    assert first in text and weight in text
    assert "<details><summary>Every estimate with its 95% interval</summary>" in text


def test_categorical_profiles_are_one_panel_per_item_with_bars_per_level_and_class():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"a": rng.choice(["x", "y", "z"], 300), "b": rng.choice(["u", "v"], 300), "c": rng.choice(["p", "q"], 300)}
    )
    m = mf.Mixture(mf.Categorical(), 2, random_state=0, n_init=2).fit(frame)
    fig = plots.plot_profiles(m)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["a", "b", "c"]
    heights = np.array([bar.get_height() for bar in panels[0].patches]).reshape(2, 3)  # class by level
    np.testing.assert_allclose(heights, m.params_["p"][:, 0, :3], rtol=1e-12)
    assert [t.get_text() for t in panels[1].get_xticklabels()] == ["u", "v"]  # no padding level
    np.testing.assert_allclose(np.array([b.get_height() for b in panels[1].patches]).reshape(2, 2).sum(axis=1), 1.0)


def test_the_criteria_figure_puts_the_chosen_criterion_on_its_own_axis():
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = mf.select(survey, mf.Bernoulli(), range(1, 5), n_init=2, random_state=0).table
    fig = plots.plot_criteria(table, "bic", title="bernoulli mixtures on survey.csv")
    main, every = fig.axes
    assert main.get_title() == f"BIC: chooses K = {int(table['bic'].idxmin())}"
    np.testing.assert_allclose(main.get_lines()[0].get_ydata(), table["bic"])
    assert all(line.get_ydata().min() == 0 for line in every.get_lines())  # each from its own minimum
    assert fig._suptitle.get_text() == "bernoulli mixtures on survey.csv"


def test_gaussian_data_of_several_columns_are_drawn_over_every_pair_as_mclust_draws_them():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(np.r_[rng.normal(0, 1, (150, 3)), rng.normal(3, 1, (150, 3))], columns=["a", "b", "c"])
    m = mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(X)
    fig = plots.plot_fit(m, X)
    assert len(fig.axes) == 9  # 3 x 3 pairs
    first = fig.axes[0]  # classification of (a, b): rows and each component's mean and ellipses
    assert first.get_ylabel() == "b"
    assert sum(len(c.get_offsets()) for c in first.collections) == len(X)
    diagonal = fig.axes[3]  # column a: the histogram and the densities, which integrate to 1
    mixture = [line for line in diagonal.get_lines() if line.get_label() == "mixture density"][0]
    x, y = mixture.get_data()
    from scipy.integrate import trapezoid

    assert trapezoid(y, x) == pytest.approx(1.0, abs=0.01)
    uncertain = fig.axes[6].collections[0].get_sizes()  # above: larger points, less certain rows
    proba = m.predict_proba(X)
    np.testing.assert_allclose(uncertain, 4 + 60 * (1 - proba.max(axis=1)))


def test_the_bivariate_residuals_heat_map_holds_each_pair_in_the_items_order():
    from mixfit.diagnostics import bivariate_residuals

    survey = pd.read_csv(EXAMPLES / "survey.csv")
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(survey)
    table = bivariate_residuals(m, survey)
    ax = plots.plot_bivariate_residuals(table).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(survey.columns)
    matrix = ax.get_images()[0].get_array()
    row = table[(table["item_a"] == "q1") & (table["item_b"] == "q3")].iloc[0]
    assert matrix[0, 2] == matrix[2, 0] == pytest.approx(row["bvr"])
    assert "bivariate residuals" in plots.all_figures(m, survey)
