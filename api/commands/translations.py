"""``carecenter translations extract``: the texts of a BPMN file as a catalog template for its designer.

The template lists what people see of the process (name, task names, customer stages, the texts
of the forms its tasks use) with where each appears; translated and saved as
``<bpmn stem>.<language>.po`` beside the BPMN file, it is deployed with it (see
docs/processes.md, "Translating process texts").
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine import model_translations
from engine.config import Settings


@click.group()
def translations() -> None:
    """Translations of the texts of process models (gettext .po catalogs beside the BPMN file)."""


@translations.command("extract")
@click.argument("bpmn_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--language",
    type=click.Choice(model_translations.LANGUAGES),
    default=None,
    help="Write a catalog for this language, keeping the translations of the catalog beside the file"
    " [default: a template without translations].",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here, not to stdout."
)
@click.option(
    "--forms",
    "forms_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Where the forms live [default: beside the file, then CARECENTER_FORMS_DIR].",
)
def extract(bpmn_file: Path, language: str | None, output: Path | None, forms_dir: Path | None) -> None:
    """Write the translatable texts of BPMN_FILE as a .pot template (or, with --language, a .po catalog)."""
    folders = [forms_dir] if forms_dir else [bpmn_file.parent, Settings.from_env().forms_dir]
    try:
        texts = model_translations.file_texts(bpmn_file, folders)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    known: dict[str, str] = {}
    existing = bpmn_file.parent / f"{model_translations.model_stem(bpmn_file.name)}.{language}.po"
    if language and existing.is_file():
        try:
            known = model_translations.parse_catalog(existing.name, existing.read_bytes()).messages
        except model_translations.CatalogError as error:
            where = f"{existing}:{error.line}" if error.line else str(existing)
            raise click.ClickException(f"{where}: {error.message}") from None
    catalog = model_translations.write_catalog(texts, bpmn_file.name, language, known)
    if output is None:
        sys.stdout.write(catalog)
    else:
        output.write_text(catalog, encoding="utf-8")
        kept = sum(1 for text in texts if text.text in known)
        click.echo(f"{output}: {len(texts)} texts, {kept} translated already", err=True)
