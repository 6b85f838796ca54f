"""The tutorial2020 table: spec and published CSV agree; the published linear rows reproduce on the real
NSynth CSVs (skipped when ../shared/data is absent). That every row's config stack resolves is checked for
all tables in tests/tables."""

import pytest

from mirbench.bench.compare import load_reference
from mirbench.bench.spec import load_spec
from mirbench.data.nsynth import NSynthTutorialDataModule
from mirbench.methods.linear import LDA, NCA, Euclidean, LinearMetricMethod
from mirbench.methods.lmnn import LMNN


@pytest.fixture(scope="module")
def spec():
    return load_spec("tutorial2020")


def test_spec_and_published_csv(spec):
    ref = load_reference(spec.published, spec)
    checked = ref[ref.status == "check"]
    assert set(checked.row) == {"knn", "lda", "nca", "lmnn"} and set(checked.column) == {"accuracy", "macro_f1"}
    assert (checked.tol_abs == 0.02).all()
    assert {r.id for r in spec.rows} >= {"siamese", "triplet_easy", "triplet_semihard", "triplet_hard",
                                          "normsoftmax", "protonet", "simclr"}


@pytest.fixture
def nsynth(shared_data):
    root = shared_data / "nsynth_tutorial"
    if not (root / "nsynth_train.csv").is_file():
        pytest.skip(f"NSynth tutorial CSVs not found in {root}")
    return NSynthTutorialDataModule(root=str(root))


# (learner, standardize, published accuracy, published macro-F1); LMNN with 100 of its 1,000 iterations
PUBLISHED = {
    "knn": (lambda: Euclidean(), True, 0.67, 0.66),
    "lda": (lambda: LDA(), True, 0.77, 0.75),
    "nca": (lambda: NCA(random_state=2020), True, 0.78, 0.77),
    "lmnn": (lambda: LMNN(max_iter=100), False, 0.78, 0.77),
}


@pytest.mark.parametrize("row", list(PUBLISHED))
def test_published_linear_rows_reproduce(nsynth, tmp_path, row):
    from tutorial_blobs import trainer

    make, standardize, acc, f1 = PUBLISHED[row]
    model = LinearMetricMethod(make(), standardize=standardize, data_info=nsynth.data_info, save_embeddings=False)
    tr = trainer(tmp_path)
    tr.fit(model, datamodule=nsynth)
    metrics = tr.test(model, datamodule=nsynth, verbose=False)[0]
    # tol: not float error: a fit on the real data reproduces the paper's number printed to 2 decimals within
    # 0.02 (measured); the next line likewise
    assert metrics["test/accuracy"] == pytest.approx(acc, abs=0.02)
    assert metrics["test/macro_f1"] == pytest.approx(f1, abs=0.02)
