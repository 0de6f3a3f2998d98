"""docs/methods.md is generated from the method classes (`python -m cddgan.methods.reference >
docs/methods.md`); these tests fail when the committed file and the code disagree, and check that the
facts a reader looks up there (each schedule, each default, NEGCUT's named draw option) come out of the
classes."""

from __future__ import annotations

from pathlib import Path

from cddgan.cli import main
from cddgan.methods import available, method_class
from cddgan.methods.reference import render, schedule, shipped_methods

REPO = Path(__file__).resolve().parents[1]


def test_docs_methods_md_is_the_generated_reference():
    """Regenerate with `python -m cddgan.methods.reference > docs/methods.md` after changing a method's
    defaults, schedule or docstrings."""
    committed = (REPO / "docs" / "methods.md").read_text()
    assert committed == render(), "docs/methods.md is stale; regenerate it (see this test's docstring)"


def test_every_shipped_method_has_a_section_with_each_default():
    text = render()
    assert {"identity", "dcp", "cyclegan", "cut", "fastcut", "negcut", "cddgan"} <= set(shipped_methods())
    for name in shipped_methods():
        cls = method_class(name)
        section = render(name)
        # the whole document refers to notes it already printed (FastCUT shares CUT's file); the rest is the same
        assert f"## `{name}`" in text and section.split("Notes")[0] in text
        for key in cls.defaults:
            assert f"| `{key}` |" in section, (name, key)


def test_schedules_come_from_each_class():
    assert "`decay_start` 0.75" in schedule(method_class("fastcut"))
    assert "`decay_start` 0.5" in schedule(method_class("cut"))
    assert schedule(method_class("dcp")).startswith("none")
    fastcut = render("fastcut")
    assert "| `lambda_nce` | `10.0` |" in fastcut and "| `nce_idt` | `false` |" in fastcut
    assert "| `lambda_nce` | `1.0` |" in render("cut")


def test_negcut_documents_its_draw_option_and_default():
    section = render("negcut")
    assert "| `shared_draws` | `false` |" in section
    assert "`shared_draws`" in section.split("Notes", 1)[1]  # the reason, from the method's file


def test_cddgan_methods_lists_or_describes_one(capsys):
    assert main(["methods"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in shipped_methods())
    assert main(["methods", "negcut"]) == 0
    assert capsys.readouterr().out == render("negcut")
    assert main(["methods", "negcutt"]) == 1
    assert "unknown method 'negcutt'" in capsys.readouterr().err


def test_a_plugin_or_a_class_without_a_file_stays_out_of_the_project_docs(monkeypatch):
    """Tests and users register methods at run time (no source file, or a file outside the project): the
    reference must neither document nor crash on them."""
    from cddgan.methods import register
    from cddgan.methods.base import Method
    from cddgan.methods.registry import _REGISTRY

    monkeypatch.setattr("cddgan.methods.registry._REGISTRY", dict(_REGISTRY))  # leave no class behind

    cls = type("Gamma", (Method,), {"__doc__": "Brighten.", "__module__": "builtins"})
    register("reference-test-gamma")(cls)
    assert "reference-test-gamma" in available()
    assert "reference-test-gamma" not in shipped_methods()
    assert "reference-test-gamma" not in render()
    assert "(no source file)" in render("reference-test-gamma")
