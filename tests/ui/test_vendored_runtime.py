"""The vendored onnxruntime-web (static/ort/): the files its SHA256SUMS names and no others, every sum right, its
licence beside it, one version everywhere it is written, the sizes its README states, and the gzipped WebAssembly
binary inflating to the very file the npm package holds; Streamlit serves static/ (server.enableStaticServing)."""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORT = ROOT / "static" / "ort"
SUMMED = {"ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz", "LICENSE", "VERSION"}


def sums() -> dict[str, str]:
    """SHA256SUMS as file name -> sha256 (``sha256sum``'s format: the hash, two spaces, the name)."""
    out = {}
    for line in (ORT / "SHA256SUMS").read_text().splitlines():
        digest, name = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line).groups()  # type: ignore[union-attr]
        out[name] = digest
    return out


def test_static_ort_holds_exactly_the_summed_files_its_readme_and_sums():
    assert {p.name for p in ORT.iterdir()} == SUMMED | {"README.md", "SHA256SUMS"}
    assert set(sums()) == SUMMED
    for name, digest in sums().items():
        assert hashlib.sha256((ORT / name).read_bytes()).hexdigest() == digest, name


def test_the_licence_is_onnxruntimes_mit_licence():
    text = (ORT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Microsoft Corporation" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    bundle = (ORT / "ort.wasm.bundle.min.mjs").read_text()[:300]
    assert "Licensed under the MIT License" in bundle


def test_one_version_everywhere():
    from ui.browser_models import ORT_VERSION

    version = (ORT / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert f"ONNX Runtime Web v{version}\n" in (ORT / "ort.wasm.bundle.min.mjs").read_text()[:200]
    readme = (ORT / "README.md").read_text()
    assert (
        f"Version: **{version}**" in readme
        and f"ThirdPartyNotices.txt](https://github.com/microsoft/onnxruntime/blob/v{version}/" in readme
    )
    assert version == ORT_VERSION


def test_the_readme_states_the_real_sizes_and_the_inflated_binary():
    readme = (ORT / "README.md").read_text()
    wasm = gzip.decompress((ORT / "ort-wasm-simd-threaded.wasm.gz").read_bytes())
    assert wasm[:4] == b"\0asm"  # a WebAssembly module
    for name in ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz", "LICENSE"):
        assert f"| `{name}` | {(ORT / name).stat().st_size:,}" in readme, name
    assert f"({len(wasm):,} bytes) gzipped" in readme
    assert f"sha256\n`{hashlib.sha256(wasm).hexdigest()}`" in readme


def test_the_vendoring_script_checks_the_files():
    script = ROOT / "scripts" / "vendor_ort_web.sh"
    done = subprocess.run(["bash", str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "every file matches SHA256SUMS" in done.stdout


def test_streamlit_serves_the_static_folder():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["enableStaticServing"] is True
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "static/models/x.onnx"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert ignored.returncode == 0  # the runs' exported models are written at run time, never committed
