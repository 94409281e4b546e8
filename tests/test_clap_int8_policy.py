"""`encoder export --int8` writes an int8 encoder only where the CPU runs int8 faster than fp32 (VNNI/AMX, ARM).

On x86 without int8 dot products the int8 kernels were measured no faster than fp32, so the command
keeps the fp32 encoder and says why. This machine's CPU decides one branch; the other is taken by
telling the export the CPU lacks them (the flag check itself is bridge/cpu.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_clap import exported

from loopbridge import cpu
from loopbridge.cli import main
from loopbridge.commands.encoder import int8_path
from loopbridge.encoders import Encoder, encoder_path

pytestmark = pytest.mark.slow


def export_int8(checkpoint: Path) -> int:
    return main(["encoder", "export", "--checkpoint", str(checkpoint), "--preset", "clap-htsat-fused", "--int8"])


def test_int8_written_and_usable_where_the_cpu_has_int8_dot_products(lb_home: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(cpu, "has_int8_dot", lambda: True)
    assert export_int8(exported("clap-htsat-fused").checkpoint) == 0
    out = capsys.readouterr().out
    assert f"use it with --encoder {int8_path('clap-htsat-fused')}" in out
    monkeypatch.delenv("LOOPBRIDGE_ENGINE", raising=False)
    encoder = Encoder(int8_path("clap-htsat-fused"))
    assert encoder.quantization.startswith("int8-dynamic-")
    # the default engine keeps ONNX Runtime's int8 kernels, chosen per CPU, even where OpenVINO runs fp32
    assert (encoder.engine, encoder.provider) == ("onnxruntime", "CPUExecutionProvider")


def test_int8_not_written_without_int8_dot_products(lb_home: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(cpu, "has_int8_dot", lambda: False)
    assert export_int8(exported("clap-htsat-fused").checkpoint) == 0
    out = capsys.readouterr().out
    assert "int8 is not written on this CPU" in out
    assert "fp32 encoder is the one to use" in out
    assert encoder_path("clap-htsat-fused").is_file()
    assert not int8_path("clap-htsat-fused").exists()
