"""The one accent folding shared by the login rule and the Annuaire's search."""

from __future__ import annotations

import pytest

from enttui.domain.folding import TRANSLITERATION, fold_accents


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Éloïse", "Eloise"),
        ("Yılmaz", "Yilmaz"),
        ("Lecœur", "Lecoeur"),
        ("Œuvre", "Oeuvre"),
        ("Ægir", "Aegir"),
        ("Straße", "Strasse"),
        ("Łukasz Søndergård", "Lukasz Sondergard"),
        ("Đorđe", "Dorde"),
        ("Þóra Guðmundsdóttir", "Thora Gudmundsdottir"),
        ("İstanbul", "Istanbul"),
        ("ﬁlle", "fille"),  # a compatibility ligature (NFKD)
        ("N'Diaye — Le Floc’h", "N'Diaye — Le Floc’h"),  # punctuation is kept
        ("宮崎", "宮崎"),  # other scripts stay
        ("plain ascii", "plain ascii"),
    ],
)
def test_fold_accents(text, folded):
    assert fold_accents(text) == folded


def test_every_transliterated_letter_comes_out_ascii():
    for letter, spelled in TRANSLITERATION.items():
        assert fold_accents(letter) == spelled
        assert spelled.isascii() and spelled.isalpha()
