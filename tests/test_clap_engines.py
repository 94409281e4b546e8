"""The engine choice for encoder graphs: ONNX Runtime by default, OpenVINO on request, a clear fallback otherwise.

Real sessions on the exported random-weight CLAP graph (tests/helpers_clap.py) and real OpenVINO compiles."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers_clap import exported

from loopbridge import cpu, engines, features
from loopbridge.encoders import Encoder
from loopbridge.errors import EncoderError
from loopbridge.synth import make_loop

pytestmark = pytest.mark.slow


def loop_batch() -> dict[str, np.ndarray]:
    """A short and a long synthetic loop, so the fused (long) and plain (short) rows both run."""
    clips = [make_loop(0).samples[: 3 * 48_000], np.resize(make_loop(1).samples, 25 * 48_000)]
    return features.batch([features.fusion_input(np.asarray(y, np.float32)) for y in clips])


def test_auto_engine_follows_the_cpu_and_agrees_with_onnx_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto`: OpenVINO f32 for the CLAP graph on Intel CPUs and AMD ones with AVX-512 where it is installed
    (measured faster there), ONNX Runtime on every other CPU; either way the embeddings are ONNX Runtime's."""
    monkeypatch.delenv("LOOPBRIDGE_ENGINE", raising=False)
    onnx_path = exported("clap-htsat-fused").onnx
    faster = (cpu.vendor() == "GenuineIntel" or "avx512f" in cpu.flags()) and engines.openvino_available()
    encoder = Encoder(onnx_path)
    assert encoder.engine == ("openvino" if faster else "onnxruntime")
    assert encoder.provider == ("OpenVINO CPU" if faster else "CPUExecutionProvider")
    inputs = loop_batch()
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "onnxruntime")
    want = Encoder(onnx_path).embed_inputs(inputs)
    got = encoder.embed_inputs(inputs)
    assert float((np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)).max()) < 1e-3


def test_auto_engine_keeps_onnx_runtime_for_a_small_graph(monkeypatch: pytest.MonkeyPatch, lb_home) -> None:
    """mel-stats gains nothing from a compile (int8 graphs: tests/test_clap_int8_policy.py). On an Intel CPU with
    OpenVINO this is the rule at work; elsewhere auto is ONNX Runtime for every graph anyway."""
    from loopbridge.encoders import ensure_mel_stats

    monkeypatch.delenv("LOOPBRIDGE_ENGINE", raising=False)
    assert Encoder(ensure_mel_stats()).engine == "onnxruntime"


def test_openvino_engine_reads_the_same_graph_and_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOOPBRIDGE_ENGINE=openvino: same metadata, same inputs, f32 embeddings equal to ONNX Runtime's."""
    pytest.importorskip("openvino")
    onnx_path = exported("clap-htsat-fused").onnx
    inputs = loop_batch()
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "onnxruntime")
    reference = Encoder(onnx_path)
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "openvino")
    encoder = Encoder(onnx_path)
    assert encoder.engine == "openvino"
    assert (encoder.name, encoder.dim, encoder.random_weights) == ("clap-htsat-fused", 768, True)
    assert encoder._inputs == reference._inputs == ["mel_fusion", "longer"]
    want, got = reference.embed_inputs(inputs), encoder.embed_inputs(inputs)
    assert got.shape == want.shape == (2, 768)
    err = float((np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)).max())
    assert err < 1e-3, err  # f32 on both; different kernels sum in different orders


def test_openvino_bf16_on_request_stays_close_to_f32(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOOPBRIDGE_OPENVINO_PRECISION=bf16 (worth it on CPUs with bf16 dot products): cosine to f32 ≥ 0.999."""
    pytest.importorskip("openvino")
    onnx_path = exported("clap-htsat-fused").onnx
    inputs = loop_batch()
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "onnxruntime")
    want = Encoder(onnx_path).embed_inputs(inputs)
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "openvino")
    monkeypatch.setenv("LOOPBRIDGE_OPENVINO_PRECISION", "bf16")
    got = Encoder(onnx_path).embed_inputs(inputs)
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() >= 0.999, cosine
    monkeypatch.setenv("LOOPBRIDGE_OPENVINO_PRECISION", "fp8")
    with pytest.raises(EncoderError, match="use f32 or bf16"):
        Encoder(onnx_path)


def test_unknown_engine_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "tensorflow")
    with pytest.raises(EncoderError, match="onnxruntime, openvino"):
        Encoder(exported("clap-htsat-fused").onnx)


def test_openvino_requested_but_missing_falls_back_to_onnx_runtime(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "openvino")
    monkeypatch.setattr(engines, "openvino_available", lambda: False)  # as on an install without the package
    with caplog.at_level(logging.WARNING, logger="loopbridge"):
        encoder = Encoder(exported("clap-htsat-fused").onnx)
    assert encoder.engine == "onnxruntime"
    assert "pip install openvino" in caplog.text
    assert encoder.embed_inputs(loop_batch()).shape == (2, 768)


def test_graph_openvino_cannot_compile_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:
    """A graph with an ONNX Runtime contrib op OpenVINO cannot convert (com.microsoft Inverse) runs on ONNX Runtime."""
    pytest.importorskip("openvino")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Inverse", ["waveform"], ["inverse"], domain="com.microsoft"),
            helper.make_node("Flatten", ["inverse"], ["embedding"]),
        ],
        "contrib",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [None, 4, 4])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, 16])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    path = tmp_path / "contrib.onnx"
    path.write_bytes(model.SerializeToString())
    monkeypatch.setenv("LOOPBRIDGE_ENGINE", "openvino")
    with caplog.at_level(logging.WARNING, logger="loopbridge"):
        encoder = Encoder(path)
    assert encoder.engine == "onnxruntime"
    assert "OpenVINO could not run" in caplog.text
    out = encoder.embed_inputs({"waveform": 2 * np.eye(4, dtype=np.float32)[None]})
    assert np.allclose(out, 0.5 * np.eye(4).ravel())


@pytest.mark.parametrize(
    ("vendor", "flags", "want"),
    [
        ("GenuineIntel", {"avx2", "avx512f", "avx512_vnni", "amx_tile"}, True),  # Xeon: 55 vs 72 ms
        ("AuthenticAMD", {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}, True),  # EPYC Zen 4: 59 vs 79 ms
        ("AuthenticAMD", {"avx2", "fma"}, False),  # EPYC with AVX2 only: OpenVINO 274 vs 236 ms
    ],
)
def test_auto_prefers_openvino_only_on_the_cpus_it_was_measured_faster_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path, vendor: str, flags: set[str], want: bool
) -> None:
    if not engines.openvino_available():
        pytest.skip("openvino is not installed")
    monkeypatch.setattr(cpu, "vendor", lambda: vendor)
    monkeypatch.setattr(cpu, "flags", lambda: frozenset(flags))
    clap = exported("clap-htsat-fused").onnx
    assert engines.prefers_openvino(clap) is want
    small = tmp_path / "small.onnx"
    small.write_bytes(b"\0" * 1024)  # mel-stats-sized: OpenVINO's compile would not pay back
    assert engines.prefers_openvino(small) is False
