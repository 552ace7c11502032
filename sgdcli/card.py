"""The model card printed by ``sgdcli show``."""

from __future__ import annotations

from sgdcli.model import load_model


def model_card(path) -> dict:
    m = load_model(path)
    return {
        "model": m.model,
        "features": m.n_features,
        "outputs": int(m.weights.shape[0]),
        "classes": m.classes.tolist() if m.classes is not None else None,
        "standardized": m.center is not None,
        "bias": m.bias.tolist(),
        "weight_norm": float((m.weights**2).sum() ** 0.5),
        "hyperparameters": m.options,
        "training": m.training,
        "history": m.history,
        "data": m.fingerprint,
        "versions": m.versions,
        "created": m.created,
    }


def render_card(card: dict) -> str:
    lines = [f"model        {card['model']}", f"features     {card['features']}"]
    if card["classes"] is not None:
        lines.append(f"classes      {', '.join(str(c) for c in card['classes'])}")
    lines.append(f"standardized {'yes' if card['standardized'] else 'no'}")
    lines.append(f"created      {card['created']}")
    lines.append("")
    lines.append("hyperparameters")
    lines += [f"  {k:<18} {v}" for k, v in card["hyperparameters"].items()]
    lines.append("")
    lines.append("training")
    lines += [f"  {k:<20} {v}" for k, v in card["training"].items()]
    lines.append("")
    lines.append("history")
    if card["history"]:
        keys = [k for k in card["history"][0] if k != "rows"]
        lines.append("  " + "  ".join(f"{k:>12}" for k in keys))
        for rec in card["history"]:
            lines.append("  " + "  ".join(f"{_cell(rec.get(k)):>12}" for k in keys))
    lines.append("")
    lines.append("training data")
    lines += [f"  {k:<8} {v}" for k, v in card["data"].items()]
    lines.append("")
    lines.append("versions     " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()))
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    return "-" if v is None else str(v)
