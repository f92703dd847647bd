"""Quantiser: weight grid, scales, decays, thresholds and the named hardware rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scnn.hw.chips import LOIHI1, LOIHI2
from scnn.hw.errors import HardwareRuleError
from scnn.hw.quantize import decay_from_beta, quantize_model, quantize_weights
from scnn.hw.rules import check_bias, check_decay, check_threshold, check_weight_grid
from scnn.models.loihi import rtz_decay
from scnn.models.scnn import SCNN, get_config
from scnn.sim.fast import wrap_current


def test_weight_grid_is_even_8bit() -> None:
    w = torch.tensor([-300.0, -256.0, -255.0, -3.0, -1.0, 0.4, 1.0, 3.0, 253.0, 254.0, 999.0])
    q = quantize_weights(w)
    assert q.tolist() == [-256, -256, -256, -4, 0, 0, 0, 4, 252, 254, 254]  # half to even
    check_weight_grid("ok", q.numpy())
    with pytest.raises(HardwareRuleError, match="weight-grid.*layer bad.*first: 3"):
        check_weight_grid("bad", np.array([2, 3, 4]))


def test_decay_and_threshold_rules() -> None:
    assert decay_from_beta(0.75) == 1024 and decay_from_beta(1.0) == 0
    assert decay_from_beta(0.0) == 4095 and decay_from_beta(0.5) == 2048
    check_threshold("l", 131071, LOIHI1)
    with pytest.raises(HardwareRuleError, match=r"threshold-range.*131072.*\[1, 131071\]"):
        check_threshold("l", 131072, LOIHI2)
    with pytest.raises(HardwareRuleError, match="decay-range.*dv = 4096"):
        check_decay("l", "dv", 4096, LOIHI1)
    with pytest.raises(HardwareRuleError, match=r"bias-range.*\[-4096, 4095\]"):
        check_bias("l", np.array([0, 5000]), LOIHI1)


def test_rtz_decay_rounds_toward_zero_and_passes_gradient() -> None:
    v = torch.tensor([4097.0, -4097.0, 100.0, -100.0, 0.0], dtype=torch.float64,
                     requires_grad=True)
    out = rtz_decay(v, 2048)
    assert out.tolist() == [2048, -2048, 50, -50, 0]
    out.sum().backward()
    assert torch.allclose(v.grad, torch.full_like(v, 0.5))
    odd = rtz_decay(torch.tensor([3.0, -3.0], dtype=torch.float64), 1024)
    assert odd.tolist() == [2, -2]  # 2.25 -> 2, -2.25 -> -2 (not floor)


def test_current_wrap_is_lavas_two_sided_wrap() -> None:
    lim = 2**23
    x = torch.tensor([lim, lim + 1, -lim, -lim + 1, 5.0], dtype=torch.float64)
    assert wrap_current(x).tolist() == [lim, -lim + 1, lim, -lim + 1, 5]


def test_quantized_model_is_on_the_chip_grid() -> None:
    torch.manual_seed(0)
    model = SCNN(get_config("model_b", input_shape=(1, 16, 16), steps=4))
    q = quantize_model(model)
    ws = [w.detach() for w in q.int_weights()]
    for w in ws:
        check_weight_grid("w", w.numpy())
        assert w.abs().max() >= 252  # the largest weight uses the range
    assert q.quants[0].vth == 256 and q.quants[0].dv == 2048  # model_b: beta 0.5
    assert q.readout_q.dv == 0 and q.readout_q.vth == LOIHI2.threshold_mant_max
    x = torch.randn(3, 1, 16, 16)
    logits, spikes, v_out = q(x, record=True)
    assert logits.shape == (3, 10) and len(spikes) == 3
    assert torch.equal(v_out, v_out.round())  # integer voltages
    assert torch.equal(logits.argmax(1), v_out.argmax(1))


def test_zero_layer_cannot_be_scaled() -> None:
    model = SCNN(get_config("model_b", input_shape=(1, 16, 16), steps=2))
    with torch.no_grad():
        model.synapses[0].weight.zero_()
    with pytest.raises(HardwareRuleError, match="weight-scale.*synapse 0"):
        quantize_model(model)


def test_qat_gradients_flow() -> None:
    torch.manual_seed(1)
    q = quantize_model(SCNN(get_config("model_b", input_shape=(1, 16, 16), steps=4)))
    loss = q(torch.randn(4, 1, 16, 16) * 3).logsumexp(1).sum()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in q.parameters())
    assert any(float(p.grad.abs().sum()) > 0 for p in q.weights)


def test_chip_descriptions_agree_with_lavas_fixed_point_constants() -> None:
    """hw.chips (limits from the papers) and hw.fixed_point (Lava's arithmetic) name the
    same widths from different sources; they must not drift apart."""
    from scnn.hw import fixed_point as fx

    for chip in (LOIHI1, LOIHI2):
        assert chip.threshold_mant_max == fx.VTH_MAX
        assert chip.bias_mant_range == (fx.BIAS_MANT_MIN, fx.BIAS_MANT_MAX)
        assert chip.bias_exp_range == (0, fx.BIAS_EXP_MAX)
        assert fx.BIAS_EXP_DEFAULT <= chip.bias_exp_range[1]
        assert chip.decay_max == fx.DECAY_MAX
        assert chip.state_max == fx.V_MAX and chip.state_bits == fx.UV_BITS
        assert chip.weight_bits == fx.WEIGHT_BITS + 1  # 8 magnitude bits + sign
