"""The replacement rules of pseudonymisation, without the database."""

from trialdm.translation.pseudonymisation import KeyTerm, find_name_like, pseudonymise


def terms(*pairs):
    return [KeyTerm(index, term, replacement) for index, (term, replacement) in enumerate(pairs)]


def test_longest_first_and_whole_words():
    result = pseudonymise(
        "Mary Anne came with Mary. Maryland is far. Rosemary too.",
        terms(("Mary", "BU-0002"), ("Mary Anne", "BU-0001")),
    )
    assert result.text == "BU-0001 came with BU-0002. Maryland is far. Rosemary too."
    assert [(r["found"], r["replacement"], r["line"]) for r in result.replacements] == [
        ("Mary Anne", "BU-0001", 1),
        ("Mary", "BU-0002", 1),
    ]


def test_case_aware_names_and_identifiers():
    text = "Grace said grace before eating. GRACE laughed.\nCall 0772-123456 or Butabika ward 5."
    result = pseudonymise(
        text,
        terms(("Grace", "BU-0007"), ("0772-123456", "[PHONE]"), ("ward 5", "[WARD]")),
    )
    assert result.text == (
        "BU-0007 said grace before eating. BU-0007 laughed.\nCall [PHONE] or Butabika [WARD]."
    )
    assert [r["line"] for r in result.replacements] == [1, 1, 2, 2]
    # "Butabika" is capitalised mid-sentence and not in the key: flagged for a person.
    assert result.flags == [{"token": "Butabika", "line": 2}]


def test_replaced_text_is_not_matched_again():
    result = pseudonymise("Peter met Paul.", terms(("Peter", "Paul"), ("Paul", "[PSW]")))
    assert result.text == "Paul met [PSW]."
    assert len(result.replacements) == 2


def test_flags_skip_sentence_starts_speaker_labels_and_common_words():
    text = "R1: Yesterday I met Okello at the clinic. On Monday Dr Achieng came.\nI: And then?"
    flags = find_name_like(text, set())
    assert [f["token"] for f in flags] == ["Okello", "Achieng"]


def test_non_latin_scripts_keep_combining_marks_and_whole_words():
    marathi = "राम आणि रामा आले. रामने सांगितले."
    result = pseudonymise(marathi, terms(("राम", "PU-0001")))
    # "रामा" and "रामने" are other words (vowel sign, suffix): only the whole word goes.
    assert result.text == "PU-0001 आणि रामा आले. रामने सांगितले."
    hebrew = "שרה אמרה שלום לדוד."
    result = pseudonymise(hebrew, terms(("שרה", "BGU-0003"), ("דוד", "[PSW]")))
    # The one-letter prefix ל ("to") stays; the name after it goes.
    assert result.text == "BGU-0003 אמרה שלום ל[PSW]."
    assert pseudonymise("שלום דודו", terms(("דוד", "[PSW]"))).text == "שלום דודו"
    assert result.flags == []


def test_terms_with_leading_punctuation_and_many_replacements():
    text = "Call +256 772 or x+256 772.\n" + "Okello spoke. " * 2000
    result = pseudonymise(text, terms(("+256 772", "[PHONE]"), ("Okello", "BU-0001")))
    assert result.text.startswith("Call [PHONE] or x+256 772.\nBU-0001 spoke.")
    assert len(result.replacements) == 2001
    assert result.replacements[-1]["line"] == 2
