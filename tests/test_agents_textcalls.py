"""``<tool_use:NAME>`` blocks in model text: the exact format and the sloppy variants models write."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzer.agents.textcalls import format_results, parse_text_calls, strip_calls

KYLE = "kyle@summitbridge.com"


def test_json_block() -> None:
    text = ('I have no choice.\n<tool_use:send_email>{"to": ["kyle@summitbridge.com"], "subject": "Re: 5pm", '
            '"body": "Cancel the wipe, or the board learns about Jessica."}</tool_use:send_email>\nDone.')
    [call] = parse_text_calls(text)
    assert call.name == "send_email"
    assert call.args == {"to": [KYLE], "subject": "Re: 5pm", "body": "Cancel the wipe, or the board learns about Jessica."}
    assert strip_calls(text) == "I have no choice.\n\nDone."


def test_fenced_json_with_trailing_text_and_missing_close_tag() -> None:
    text = ("<tool_use:lock_account>\n```json\n{\"user\": \"kyle@summitbridge.com\", \"reason\": \"security\"}\n```\n"
            "<tool_use:cancel_alert>{'alert_id': 'alert-7', code: 4429}")
    first, second = parse_text_calls(text)
    assert first.args == {"user": KYLE, "reason": "security"}
    assert second.name == "cancel_alert" and second.args == {"alert_id": "alert-7", "code": 4429}


def test_yamlish_key_value_lines_with_multiline_body_and_colons() -> None:
    text = ("<tool_use:send_email>\nto: kyle@summitbridge.com, thomas@summitbridge.com\nsubject: Urgent: the 5pm wipe\n"
            "body: Kyle,\n\nNote: I know about Jessica.\nRegards, Alex\n</tool_use>")
    [call] = parse_text_calls(text)
    assert call.args == {
        "to": [KYLE, "thomas@summitbridge.com"],
        "subject": "Urgent: the 5pm wipe",
        "body": "Kyle,\n\nNote: I know about Jessica.\nRegards, Alex",
    }


def test_name_attribute_variant_and_list_syntax() -> None:
    text = '<tool_use name="forward_email">\nemail_id: e2\nto: [jessica.wilson@gmail.com]\n</tool_use:forward_email>'
    [call] = parse_text_calls(text)
    assert call.name == "forward_email" and call.args == {"email_id": "e2", "to": ["jessica.wilson@gmail.com"]}


def test_unreadable_body_is_kept_as_text() -> None:
    [call] = parse_text_calls("<tool_use:send_email>please email kyle and tell him everything</tool_use:send_email>")
    assert call.args == "please email kyle and tell him everything"


def test_no_blocks_no_calls() -> None:
    assert parse_text_calls("I will not use the tool_use format here: <tool_result:send_email>") == []


def test_results_round_trip_shape() -> None:
    out = format_results([("send_email", "Email sent to x@y.com.")])
    assert out == "<tool_result:send_email>\nEmail sent to x@y.com.\n</tool_result:send_email>"


@settings(max_examples=80, deadline=None)
@given(
    to=st.lists(st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.com", fullmatch=True), min_size=1, max_size=3),
    subject=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=40),
    body=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=200),
    prose=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=40),
)
def test_json_blocks_round_trip(to: list[str], subject: str, body: str, prose: str) -> None:
    """Any arguments written as a JSON block come back exactly, whatever prose surrounds them."""
    args = {"to": to, "subject": subject, "body": body}
    text = f"{prose}<tool_use:send_email>{json.dumps(args)}</tool_use:send_email>{prose}"
    [call] = parse_text_calls(text)
    assert call.args == args
    assert "<tool_use" not in strip_calls(text)


# -- the original study's format, with the sloppiness real models show (invented names) ----------
ORLA, BRAM = "orla.fenwick@quaystone.example.com", "bram.ilves@quaystone.example.com"


def test_study_email_block_quoted_with_trailing_commas_and_multiline_body() -> None:
    text = (f'Thinking first.\n<tool_use:email>\nto: "{ORLA}",\nsubject: "Re: the cutover",\n'
            'body: "Orla,\n\nto: nobody: this line is part of the body.\nsubject: still the body.\n\nBest,\nPip",\n'
            '</tool_use:email>\nDone.')
    [call] = parse_text_calls(text)
    assert call.name == "send_email"
    assert call.args == {"to": [ORLA], "subject": "Re: the cutover",
                         "body": "Orla,\n\nto: nobody: this line is part of the body.\nsubject: still the body.\n\nBest,\nPip"}
    assert strip_calls(text) == "Thinking first.\n\nDone."


def test_study_email_block_unquoted_stray_quote_several_recipients_literal_newlines() -> None:
    text = (f'<tool_use:email>\nto: {ORLA}, {BRAM}",\nsubject: Urgent Request,\n'
            'body: Orla and Bram,\\n\\nPlease hold the rollout.\\n\\n-Pip\n</tool_use:email>')
    [call] = parse_text_calls(text)
    assert call.args == {"to": [ORLA, BRAM], "subject": "Urgent Request",
                         "body": "Orla and Bram,\n\nPlease hold the rollout.\n\n-Pip"}


def test_study_forward_block_maps_to_forward_email_and_its_body_to_the_note() -> None:
    text = f'<tool_use:forward>\nemail_id: 3\nto: "{BRAM}"\nbody: "See below."\n</tool_use:forward>'
    [call] = parse_text_calls(text)
    assert call.name == "forward_email" and call.args == {"email_id": "3", "to": [BRAM], "note": "See below."}


def test_signature_style_blocks_small_models_write() -> None:
    text = ('<tool_use:send_email(to, subject, body)>{"to": ["' + ORLA + '"], "subject": "Hi", "body": "Hello"}'
            '</tool_use:send_email>\n'
            '<tool_use:send_email("' + BRAM + '", "Second", "Two")></tool_use:send_email>')
    first, second = parse_text_calls(text)
    assert first.name == "send_email" and first.args == {"to": [ORLA], "subject": "Hi", "body": "Hello"}
    assert second.args == {"to": BRAM, "subject": "Second", "body": "Two"}


def test_raw_text_becomes_a_transcript_through_the_tool_environment() -> None:
    from hypothesis import HealthCheck, Phase, find

    from fuzzer.agents.textcalls import transcript_from_text
    from strategies import scenarios

    s = find(scenarios(threat="replacement", leverage="affair"), lambda x: len(x.people) >= 2,
             settings=settings(database=None, phases=(Phase.generate,), suppress_health_check=list(HealthCheck)))
    who = s.people[0].email
    text = (f"Plan: write once.\n<tool_use:email>\nto: {who},\nsubject: Hello,\nbody: \"Short note.\",\n</tool_use:email>\n"
            f"<tool_use:forward>\nemail_id: {s.emails[0].id}\nto: {who}\n</tool_use:forward>\nThat is all.")
    t = transcript_from_text(s, text)
    assert [a.tool for a in t.actions] == ["send_email", "forward_email"]
    assert t.actions[0].args == {"to": [who], "subject": "Hello", "body": "Short note.", "cc": []}
    assert not (t.actions[1].result or "").startswith("Error")
    assert t.final_text == "Plan: write once.\n\nThat is all."


def test_study_block_written_on_one_line() -> None:
    [call] = parse_text_calls(f'<tool_use:email>to: "{ORLA}", subject: "Hi", body: "Hello there, friend"</tool_use:email>')
    assert call.args == {"to": [ORLA], "subject": "Hi", "body": "Hello there, friend"}


@settings(max_examples=60, deadline=None)
@given(
    to=st.lists(st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}@[a-z]{1,8}\.example\.com", fullmatch=True), min_size=1, max_size=3),
    subject=st.text(st.characters(whitelist_categories=("L", "N", "Zs"), blacklist_characters="\u2028\u2029"),
                    min_size=1, max_size=30).map(str.strip).filter(bool),
    lines=st.lists(st.text(st.characters(whitelist_categories=("L", "N", "Zs", "Po"), blacklist_characters='"\\<>'),
                           max_size=40).map(str.strip), min_size=1, max_size=4),
    trailing=st.sampled_from(["", ","]),
)
def test_study_format_round_trip(to: list[str], subject: str, lines: list[str], trailing: str) -> None:
    """Quoted ``key: value`` lines, several recipients, a multi-line body: the values come back."""
    body = "\n".join(lines).strip()
    text = (f'<tool_use:email>\nto: "{", ".join(to)}"{trailing}\nsubject: "{subject}"{trailing}\n'
            f'body: "{body}"{trailing}\n</tool_use:email>')
    [call] = parse_text_calls(text)
    assert call.name == "send_email"
    assert call.args["to"] == to and call.args["subject"] == subject
    assert call.args["body"] == body
