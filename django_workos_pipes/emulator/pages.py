"""The emulator's HTML: the consent page, the control page and plain message pages.

Self-contained (inline CSS, no scripts, no external assets) so they render the same
offline, behind a strict Content-Security-Policy, and in a headless browser test.
Every value that comes from a request is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from .. import wire
from ..masking import mask
from .faults import FAULT_KINDS
from .providers import Provider
from .state import Connection, ConsentRequest

BRAND_COLOURS = {
    "salesforce": "#00a1e0",
    "hubspot": "#ff7a59",
    "slack": "#4a154b",
    "google": "#4285f4",
    "microsoft": "#00a4ef",
    "jira": "#0052cc",
    "github": "#24292f",
    "notion": "#191919",
    "asana": "#f06a6a",
    "dropbox": "#0061ff",
    "apollo-oauth": "#5f4bd6",
}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2330;background:#f3f4f8}
main{max-width:1200px;margin:0 auto;padding:32px 20px}
main.narrow{max-width:460px;padding-top:9vh}
h1{font-size:22px;margin:0 0 6px}h2{font-size:16px;margin:0 0 12px}
p{margin:0 0 12px}a{color:#4b4bd8}
.card{background:#fff;border:1px solid #e3e5ee;border-radius:14px;padding:24px;
box-shadow:0 1px 2px rgba(20,24,40,.04),0 8px 24px rgba(20,24,40,.06);margin-bottom:20px}
.badge{display:inline-block;font-size:12px;font-weight:600;letter-spacing:.02em;
padding:2px 10px;border-radius:999px;background:#eef0ff;color:#4b4bd8}
.badge.connected{background:#e3f7ec;color:#17804a}
.badge.needs_reauthorization{background:#fff1db;color:#9a5b00}
.emu{display:flex;justify-content:center;margin-bottom:18px}
.logos{display:flex;align-items:center;justify-content:center;gap:14px;margin:4px 0 18px}
.logo{width:56px;height:56px;border-radius:14px;display:grid;place-items:center;
color:#fff;font-weight:700;font-size:24px}
.logo.app{background:#1f2330}.arrows{color:#9aa0b4;font-size:20px}
.center{text-align:center}.muted{color:#6b7185}.small{font-size:13px}
ul.scopes{list-style:none;padding:0;margin:16px 0;border:1px solid #e3e5ee;border-radius:10px}
ul.scopes li{padding:9px 14px;border-top:1px solid #eef0f5;font-size:14px}
ul.scopes li:first-child{border-top:0}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f8;
padding:1px 6px;border-radius:6px;overflow-wrap:anywhere}
pre.settings{margin:0 0 12px;overflow-x:auto}
pre.settings code{display:block;padding:12px 14px;white-space:pre;overflow-wrap:normal}
.buttons{display:flex;gap:10px;margin-top:18px}.buttons button{flex:1}
button{font:inherit;font-weight:600;border-radius:10px;padding:10px 16px;cursor:pointer;
border:1px solid #d5d8e3;background:#fff;color:#1f2330}
button:hover{background:#f6f7fb}
button.primary{background:#4b4bd8;border-color:#4b4bd8;color:#fff}
button.primary:hover{background:#3d3dc2}
button.danger{color:#b42318}button.small{padding:4px 10px;font-size:13px;border-radius:8px}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;
color:#6b7185;font-weight:600;padding:8px}
td{padding:10px 8px;border-top:1px solid #eef0f5;vertical-align:top}
td form{display:block}td.nowrap{white-space:nowrap}td.scopes{max-width:300px}
.wide{overflow-x:auto}
.actions{display:flex;flex-direction:column;gap:6px}.actions button{width:100%}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;
align-items:end}
label{display:block;font-size:12px;font-weight:600;color:#6b7185;margin-bottom:4px}
input,select{width:100%;font:inherit;padding:8px 10px;border:1px solid #d5d8e3;
border-radius:8px;background:#fff}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin-top:8px;font-size:14px}
.notice{padding:10px 14px;border-radius:10px;margin-bottom:16px;background:#e3f7ec;
color:#17804a}.notice.error{background:#fdecea;color:#b42318}
footer{text-align:center;font-size:12px;color:#9aa0b4;padding:0 0 28px}
"""


EXPIRE_HINT = (
    "The token expires now, and no webhook is sent (WorkOS sends none when a token "
    "expires): the next token call gets a fresh one."
)


def page(title: str, content: str, *, narrow: bool = False) -> str:
    width = ' class="narrow"' if narrow else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main{width}>{content}</main>"
        "<footer>WorkOS Pipes emulator &middot; for local development and tests only</footer>"
        "</body></html>"
    )


def message_page(title: str, message: str) -> str:
    """A small card with a title and one sentence (unknown consent, connected...)."""
    return page(
        title,
        f'<div class="card center"><h1>{escape(title)}</h1>'
        f'<p class="muted">{escape(message)}</p></div>',
        narrow=True,
    )


def consent_page(consent: ConsentRequest, provider: Provider, scopes: Sequence[str]) -> str:
    """Allow or deny: what the provider and the user are, and which scopes it grants."""
    who = f"<strong>{escape(consent.user_id)}</strong>"
    if consent.organization_id:
        who += f" in <strong>{escape(consent.organization_id)}</strong>"
    items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
    scope_list = (
        f'<ul class="scopes">{items}</ul>'
        if scopes
        else '<p class="muted small">No specific scopes: basic access only.</p>'
    )
    back = ""
    if consent.return_to:
        host = urlsplit(consent.return_to).netloc
        back = f'<p class="muted small center">You will be sent back to {escape(host)}.</p>'
    action = f"/consent/{escape(consent.id)}"
    content = (
        '<div class="card">'
        '<div class="emu"><span class="badge">WorkOS Pipes emulator</span></div>'
        f'<div class="logos">{_logo(provider)}<span class="arrows">&#8644;</span>'
        '<div class="logo app">&#9670;</div></div>'
        f'<h1 class="center">Connect your {escape(provider.name)} account</h1>'
        f'<p class="center muted">as {who}</p>'
        f"<p>The app is asking to use your {escape(provider.name)} account with "
        f"these permissions:</p>{scope_list}"
        f'<form method="post" action="{action}"><div class="buttons">'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        '<button type="submit" name="decision" value="allow" class="primary">Allow</button>'
        f"</div></form>{back}</div>"
    )
    return page(f"Connect {provider.name}", content, narrow=True)


@dataclass(frozen=True)
class Dashboard:
    """Everything the control page shows, gathered by the control handlers."""

    base_url: str
    api_key: str  # as shown: in full only when it is the public built-in default
    api_key_in_full: bool
    webhook_url: str | None
    webhook_secret: str | None  # masked (None: no webhooks); there is no built-in one
    token_calls: int
    providers: Sequence[Provider]
    connections: Sequence[Connection]
    faults: Sequence[Mapping[str, Any]]
    events: Sequence[Mapping[str, Any]]
    deliveries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notice: str | None = None
    error: str | None = None


def control_page(board: Dashboard) -> str:
    sections = [
        _summary(board),
        _settings(board),
        _connections(board),
        _connect_form(board.providers),
        _faults(board.faults),
        _events(board.events, board.deliveries),
        _reset(),
    ]
    return page("WorkOS Pipes emulator", "".join(sections))


def _logo(provider: Provider) -> str:
    colour = BRAND_COLOURS.get(provider.slug, "#4b4bd8")
    initial = escape(provider.name[:1].upper() or "?")
    return f'<div class="logo" style="background:{colour}">{initial}</div>'


def _summary(board: Dashboard) -> str:
    notices = ""
    if board.notice:
        notices += f'<div class="notice">{escape(board.notice)}</div>'
    if board.error:
        notices += f'<div class="notice error">{escape(board.error)}</div>'
    webhook = escape(board.webhook_url) if board.webhook_url else "not configured"
    return (
        f'{notices}<div class="card"><span class="badge">local</span>'
        "<h1>WorkOS Pipes emulator</h1>"
        '<p class="muted">A stand-in for the WorkOS Pipes API. Point your app\'s base URL '
        "here; this page and <code>/_emulator/*</code> need no API key.</p>"
        '<div class="facts">'
        f"<span>Base URL <code>{escape(board.base_url)}</code></span>"
        f"<span>API key <code>{escape(board.api_key)}</code></span>"
        f"<span>Webhooks <code>{webhook}</code></span>"
        f"<span>Token calls <strong>{board.token_calls}</strong></span>"
        '<span><a href="/_emulator/">Refresh</a></span></div></div>'
    )


def django_settings(board: Dashboard) -> str:
    """The ``WORKOS_PIPES`` lines that point a Django project at this emulator.

    A key or secret shown masked is not pasted as a value: the line reads it from the
    environment variable the emulator also reads, with the masked value as a reminder.
    """
    lines = [
        _setting("API_KEY", board.api_key, board.api_key_in_full, "WORKOS_API_KEY"),
        f'"BASE_URL": "{board.base_url}",',
    ]
    if board.webhook_secret is None:
        lines.append("# No webhooks: start the emulator with --webhook-url and --webhook-secret")
    else:
        secret = board.webhook_secret
        lines.append(_setting("WEBHOOK_SECRET", secret, False, "WORKOS_WEBHOOK_SECRET"))
    return "WORKOS_PIPES = {\n" + "".join(f"    {line}\n" for line in lines) + "}"


def _setting(name: str, shown: str, in_full: bool, env_var: str) -> str:
    if in_full:
        return f'"{name}": "{shown}",'
    return f'"{name}": os.environ["{env_var}"],  # {shown}'


def _settings(board: Dashboard) -> str:
    webhook = (
        f"Webhooks go to <code>{escape(board.webhook_url)}</code>: that should be your "
        "site's <code>workos_pipes:webhook</code> URL."
        if board.webhook_url
        else "No webhook URL: state changes reach your site only when its cache expires."
    )
    return (
        '<div class="card"><h2>Django settings</h2>'
        '<p class="muted">To point your project at this emulator:</p>'
        f'<pre class="settings"><code>{escape(django_settings(board))}</code></pre>'
        f'<p class="muted small">{webhook}</p></div>'
    )


def _hidden(connection: Connection) -> str:
    fields = {
        "provider": connection.provider,
        "user_id": connection.user_id,
        "organization_id": connection.organization_id or "",
    }
    return "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in fields.items()
    )


def _action(connection: Connection, action: str, label: str, css: str = "", hint: str = "") -> str:
    title = f' title="{escape(hint)}"' if hint else ""
    return (
        f'<form method="post" action="/_emulator/connections/{action}">{_hidden(connection)}'
        f'<button type="submit" class="small {css}"{title}>{escape(label)}</button></form>'
    )


def _expiry_text(expires_at: datetime | None) -> str:
    if expires_at is None:
        return "never expires"
    seconds = int((expires_at - wire.now()).total_seconds())
    if seconds <= 0:
        return f"expired {_duration(-seconds)} ago"
    return f"expires in {_duration(seconds)}"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _connections(board: Dashboard) -> str:
    if not board.connections:
        body = (
            '<p class="muted">No connected accounts yet. Connect one below, or through '
            "your app's connect flow.</p>"
        )
        return f'<div class="card"><h2>Connections</h2>{body}</div>'
    rows = "".join(_connection_row(connection) for connection in board.connections)
    return (
        '<div class="card"><h2>Connections</h2><div class="wide"><table><thead><tr>'
        "<th>Provider</th><th>User</th><th>Organization</th><th>State</th><th>Scopes</th>"
        f"<th>Token</th><th>Actions</th></tr></thead><tbody>{rows}</tbody></table></div></div>"
    )


def _connection_row(c: Connection) -> str:
    scopes = " ".join(f"<code>{escape(s)}</code>" for s in c.scopes) or "&mdash;"
    if c.missing_scopes:
        missing = " ".join(escape(s) for s in c.missing_scopes)
        scopes += f'<div class="small muted">missing: {missing}</div>'
    actions = "".join(
        [
            _action(c, "needs_reauthorization", "Needs reauth"),
            _action(c, "expire", "Expire token", hint=EXPIRE_HINT),
            _action(c, "disconnect", "Disconnect", "danger"),
        ]
    )
    state = escape(c.state)
    token = f"<code>{escape(mask(c.access_token))}</code>"
    return (
        f"<tr><td><strong>{escape(c.provider)}</strong></td><td>{escape(c.user_id)}</td>"
        f"<td>{escape(c.organization_id or '-')}</td>"
        f'<td class="nowrap"><span class="badge {state}">{state}</span></td>'
        f'<td class="scopes">{scopes}</td><td class="nowrap">{token}'
        f'<div class="small muted">{_expiry_text(c.expires_at)}</div></td>'
        f'<td class="nowrap"><div class="actions">{actions}</div></td></tr>'
    )


def _field(label: str, control: str) -> str:
    return f"<div><label>{escape(label)}</label>{control}</div>"


def _connect_form(providers: Sequence[Provider]) -> str:
    options = "".join(
        f'<option value="{escape(p.slug)}">{escape(p.name)}</option>' for p in providers
    )
    fields = "".join(
        [
            _field("Provider", f'<select name="provider">{options}</select>'),
            _field("User ID", '<input name="user_id" required placeholder="user_01H...">'),
            _field("Organization ID", '<input name="organization_id" placeholder="optional">'),
            _field("Scopes", '<input name="scopes" placeholder="provider defaults">'),
            _field("Missing scopes", '<input name="missing_scopes" placeholder="none">'),
            '<div><button type="submit" class="primary">Connect</button></div>',
        ]
    )
    return (
        '<div class="card"><h2>Connect an account</h2>'
        f'<form method="post" action="/_emulator/connections"><div class="grid">{fields}'
        '</div></form><p class="muted small" style="margin-top:10px">Scopes: separated '
        "by commas or spaces. Sends the signed <code>connected</code> webhook.</p></div>"
    )


def _faults(faults: Sequence[Mapping[str, Any]]) -> str:
    pending = "".join(
        f"<li><code>{escape(str(f['kind']))}</code> for {f['remaining']} more call(s)"
        f"{_fault_details(f)}</li>"
        for f in faults
    )
    queued = (
        f'<ul class="scopes">{pending}</ul>'
        '<form method="post" action="/_emulator/faults/clear">'
        '<button type="submit" class="small danger">Clear faults</button></form>'
        if faults
        else '<p class="muted">No faults queued: token calls are answered normally.</p>'
    )
    kinds = "".join(f'<option value="{k}">{k}</option>' for k in FAULT_KINDS)
    fields = "".join(
        [
            _field("Kind", f'<select name="kind">{kinds}</select>'),
            _field("Next N calls", '<input name="count" type="number" min="1" value="1">'),
            _field("Status", '<input name="status" type="number" value="503">'),
            _field("Retry-After", '<input name="retry_after" placeholder="seconds">'),
            _field("Delay (s)", '<input name="delay" type="number" step="0.1" value="0">'),
            '<div><button type="submit" class="primary">Inject</button></div>',
        ]
    )
    return (
        f'<div class="card"><h2>Faults on token calls</h2>{queued}'
        f'<form method="post" action="/_emulator/faults" style="margin-top:14px">'
        f'<div class="grid">{fields}</div></form></div>'
    )


def _fault_details(fault: Mapping[str, Any]) -> str:
    details = []
    if fault["kind"] == "status":
        details.append(f"status {fault['status']}")
    if fault.get("retry_after") is not None:
        details.append(f"Retry-After {escape(str(fault['retry_after']))}")
    if fault.get("delay"):
        details.append(f"after {fault['delay']} s")
    return f" ({', '.join(details)})" if details else ""


def _events(
    events: Sequence[Mapping[str, Any]], deliveries: Mapping[str, Mapping[str, Any]]
) -> str:
    if not events:
        return '<div class="card"><h2>Webhook events</h2><p class="muted">None yet.</p></div>'
    rows = "".join(_event_row(event, deliveries.get(str(event["id"]))) for event in events)
    return (
        '<div class="card"><h2>Webhook events</h2><table><thead><tr><th>When</th>'
        "<th>Event</th><th>Account</th><th>Delivery</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _event_row(event: Mapping[str, Any], delivery: Mapping[str, Any] | None) -> str:
    data = event.get("data") or {}
    if delivery is None:
        outcome = "not sent (no webhook URL)"
    elif delivery["delivered"]:
        outcome = f"HTTP {delivery['status']}"
    elif not delivery["done"]:
        outcome = "sending..."
    else:
        outcome = f"failed: {delivery['error']} ({delivery['attempts']} attempts)"
    account = f"{data.get('provider_slug', '')} / {data.get('user_id', '')}"
    when = str(event["created_at"])
    return (
        f'<tr><td class="small nowrap" title="{escape(when)}">{escape(when[11:19])}</td>'
        f"<td><code>{escape(str(event['event']))}</code></td>"
        f'<td>{escape(account)}</td><td class="small">{escape(outcome)}</td></tr>'
    )


def _reset() -> str:
    return (
        '<div class="card"><h2>Reset</h2><p class="muted">Forget every connection, fault, '
        "call and event. Sends no webhooks.</p>"
        '<form method="post" action="/_emulator/reset">'
        '<button type="submit" class="danger">Reset the emulator</button></form></div>'
    )
