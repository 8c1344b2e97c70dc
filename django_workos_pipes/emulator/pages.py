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
from .directory import Organization, User
from .faults import FAULT_KINDS, FAULT_TARGETS
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
    "zendesk": "#03363d",
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
.stack{display:grid;gap:10px;margin:14px 0}
footer{text-align:center;font-size:12px;color:#9aa0b4;padding:0 0 28px}
"""


REVOKE_HINT = (
    "The provider's API refuses the token now, as when a user revokes the app at the "
    "provider. No webhook yet: the next token call answers needs_reauthorization and "
    "sends one; reconnecting clears it."
)
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
    """Allow or deny: whose account, which provider, and which scopes it grants (or, for
    an API-key provider, a form for the key and its config fields)."""
    name = escape(provider.name)
    organization = escape(consent.organization_id or "")
    user = f"<strong>{escape(consent.user_id)}</strong>"
    if consent.owner == "organization":
        heading = f"Connect your organization's {name} account"
        who = (
            f"for <strong>{organization}</strong>, set up by {user}: every member of the "
            "organization will use it"
        )
    else:
        another = "another " if consent.connection_intent == "add" else "your "
        heading = f"Connect {another}{name} account"
        who = f"as {user}" + (f" in <strong>{organization}</strong>" if organization else "")
    if provider.takes_api_key:
        ask = f"<p>The app is asking for an API key of your {name} account.</p>"
        ask += _api_key_fields(provider, consent)
    else:
        items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
        scope_list = (
            f'<ul class="scopes">{items}</ul>'
            if scopes
            else '<p class="muted small">No specific scopes: basic access only.</p>'
        )
        ask = (
            f"<p>The app is asking to use your {name} account with these permissions:</p>"
            f"{scope_list}"
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
        f'<h1 class="center">{heading}</h1>'
        f'<p class="center muted">{who}</p>'
        f'<form method="post" action="{action}">{ask}<div class="buttons">'
        '<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>'
        '<button type="submit" name="decision" value="allow" class="primary">Allow</button>'
        f"</div></form>{back}</div>"
    )
    return page(f"Connect {provider.name}", content, narrow=True)


def _api_key_fields(provider: Provider, consent: ConsentRequest) -> str:
    given = consent.config or {}
    fields = [
        _field(
            "API key",
            '<input name="api_key" autocomplete="off" placeholder="empty: a made-up test key">',
        )
    ]
    fields += [
        _field(
            name,
            f'<input name="config_{escape(name)}" required value="{escape(given.get(name, ""))}">',
        )
        for name in provider.config_fields
    ]
    return f'<div class="stack">{"".join(fields)}</div>'


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
    listing_calls: int = 0
    provider_calls: int = 0
    users: Sequence[User] = ()
    organizations: Sequence[Organization] = ()
    event_family: str = "connected_account"
    notice: str | None = None
    error: str | None = None


def control_page(board: Dashboard) -> str:
    sections = [
        _summary(board),
        _settings(board),
        _connections(board),
        _connect_form(board.providers),
        _settings_form(board.event_family),
        _users(board.users),
        _organizations(board.organizations),
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
        f"<span>Listing calls <strong>{board.listing_calls}</strong></span>"
        f"<span>Provider API calls <strong>{board.provider_calls}</strong></span>"
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
        "user_id": connection.user_id or "",
        "organization_id": connection.organization_id or "",
        "owner": connection.owner,
        "connected_account_id": connection.id,
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
        "<th>Provider</th><th>Owner</th><th>Organization</th><th>State</th><th>Scopes</th>"
        f"<th>Secret</th><th>Actions</th></tr></thead><tbody>{rows}</tbody></table></div></div>"
    )


def _connection_row(c: Connection) -> str:
    scopes = " ".join(f"<code>{escape(s)}</code>" for s in c.scopes) or "&mdash;"
    if c.missing_scopes:
        missing = " ".join(escape(s) for s in c.missing_scopes)
        scopes += f'<div class="small muted">missing: {missing}</div>'
    oauth = c.auth_method == "oauth"
    actions = "".join(
        [
            _action(c, "needs_reauthorization", "Needs reauth"),
            _action(c, "expire", "Expire token", hint=EXPIRE_HINT) if oauth else "",
            _action(c, "revoke_at_provider", "Revoke at provider", hint=REVOKE_HINT),
            _action(c, "disconnect", "Disconnect", "danger"),
        ]
    )
    state = escape(c.state)
    token = f"<code>{escape(mask(c.access_token))}</code>"
    if not oauth:
        token += f'<div class="small muted">{escape(c.auth_method)}</div>'
    if c.revoked_at_provider:
        token += '<div class="small muted">revoked at the provider</div>'
    if c.config:
        config = ", ".join(f"{k}={v}" for k, v in c.config.items())
        scopes += f'<div class="small muted">config: {escape(config)}</div>'
    if c.owner == "organization":
        owner = "<em>the organization</em>"
        if c.established_by_user_id:
            owner += f'<div class="small muted">set up by {escape(c.established_by_user_id)}</div>'
    else:
        owner = escape(c.user_id or "")
    role = "" if c.role == "compatibility" else '<div class="small muted">another account</div>'
    return (
        f"<tr><td><strong>{escape(c.provider)}</strong>{role}</td><td>{owner}"
        f"{_account_label(c)}</td>"
        f"<td>{escape(c.organization_id or '-')}</td>"
        f'<td class="nowrap"><span class="badge {state}">{state}</span></td>'
        f'<td class="scopes">{scopes}</td><td class="nowrap">{token}'
        f'<div class="small muted">{_expiry_text(c.expires_at)}</div></td>'
        f'<td class="nowrap"><div class="actions">{actions}</div></td></tr>'
    )


def _account_label(c: Connection) -> str:
    label = c.account_display_name or c.account_identifier
    return f'<div class="small muted">{escape(label)}</div>' if label else ""


def _field(label: str, control: str) -> str:
    return f"<div><label>{escape(label)}</label>{control}</div>"


OWNER_CHOICES = (
    '<select name="owner"><option value="user">a user</option>'
    '<option value="organization">an organization</option></select>'
)
INTENT_CHOICES = (
    '<select name="connection_intent"><option value="">its account</option>'
    '<option value="add">another account</option></select>'
)


def _connect_form(providers: Sequence[Provider]) -> str:
    oauth = [p for p in providers if not p.takes_api_key]
    options = "".join(f'<option value="{escape(p.slug)}">{escape(p.name)}</option>' for p in oauth)
    who = [
        _field("Owner", OWNER_CHOICES),
        _field("User ID", '<input name="user_id" placeholder="user_01H... (a member)">'),
        _field("Organization ID", '<input name="organization_id" placeholder="optional">'),
        _field("Connect", INTENT_CHOICES),
    ]
    fields = "".join(
        [
            _field("Provider", f'<select name="provider">{options}</select>'),
            *who,
            _field("Scopes", '<input name="scopes" placeholder="provider defaults">'),
            _field("Missing scopes", '<input name="missing_scopes" placeholder="none">'),
            '<div><button type="submit" class="primary">Connect</button></div>',
        ]
    )
    every = "".join(
        f'<option value="{escape(p.slug)}">{escape(p.name)}</option>' for p in providers
    )
    key_fields = "".join(
        [
            _field("Provider", f'<select name="provider">{every}</select>'),
            *who,
            _field("API key", '<input name="api_key" placeholder="empty: a made-up key">'),
            _field("Config", '<input name="config" placeholder="subdomain=acme, region=eu">'),
            '<input type="hidden" name="auth_method" value="api_key">',
            '<div><button type="submit" class="primary">Install</button></div>',
        ]
    )
    return (
        '<div class="card"><h2>Connect an account</h2>'
        f'<form method="post" action="/_emulator/connections"><div class="grid">{fields}'
        '</div></form><p class="muted small" style="margin-top:10px">For a user (User ID '
        "required) or an organization (Organization ID required; the user, if given, set "
        "it up). Scopes: separated by commas or spaces. Sends the signed "
        "<code>connected</code> webhook.</p>"
        '<h2 style="margin-top:22px">Install an API key</h2>'
        f'<form method="post" action="/_emulator/connections"><div class="grid">{key_fields}'
        '</div></form><p class="muted small" style="margin-top:10px">An '
        "<code>api_key</code> connection: <code>/credentials</code> vends the key with its "
        "config, no expiry and no scopes.</p></div>"
    )


def _settings_form(family: str) -> str:
    options = "".join(
        f'<option value="{name}"{" selected" if name == family else ""}>pipes.{name}.*</option>'
        for name in ("connected_account", "account_connection")
    )
    return (
        '<div class="card"><h2>Webhook names</h2>'
        '<form method="post" action="/_emulator/settings"><div class="grid">'
        f"{_field('Event family', f'<select name=event_family>{options}</select>')}"
        '<div><button type="submit">Switch</button></div></div></form>'
        '<p class="muted small" style="margin-top:10px">WorkOS may send either family; '
        "<code>account_connection</code> also has <code>add_failed</code>.</p></div>"
    )


def _users(users: Sequence[User]) -> str:
    """The user-management users (the ones a site links its own users to), and a form."""
    if users:
        rows = "".join(
            f"<tr><td><code>{escape(u.id)}</code></td><td>{escape(u.email)}</td>"
            f"<td>{escape(u.external_id or '-')}</td>"
            f"<td>{escape(', '.join(u.organization_ids) or '-')}</td></tr>"
            for u in users
        )
        listed = (
            '<div class="wide"><table><thead><tr><th>ID</th><th>Email</th>'
            f"<th>External ID</th><th>Organizations</th></tr></thead><tbody>{rows}</tbody>"
            "</table></div>"
        )
    else:
        listed = (
            '<p class="muted">No users yet: your site creates them through '
            "<code>POST /user_management/users</code>, or add one here.</p>"
        )
    fields = "".join(
        [
            _field("Email", '<input name="email" type="email" required>'),
            _field("First name", '<input name="first_name">'),
            _field("Last name", '<input name="last_name">'),
            _field("External ID", '<input name="external_id" placeholder="your user\'s pk">'),
            _field("Organizations", '<input name="organization_ids" placeholder="org_1, org_2">'),
            '<div><button type="submit" class="primary">Add user</button></div>',
        ]
    )
    return (
        f'<div class="card"><h2>Users</h2>{listed}'
        '<form method="post" action="/_emulator/users" style="margin-top:14px">'
        f'<div class="grid">{fields}</div></form></div>'
    )


def _organizations(organizations: Sequence[Organization]) -> str:
    """The organizations a site can link its own to, and a form."""
    rows = "".join(
        f"<tr><td><code>{escape(o.id)}</code></td><td>{escape(o.name)}</td>"
        f"<td>{escape(o.external_id or '-')}</td></tr>"
        for o in organizations
    )
    listed = (
        '<div class="wide"><table><thead><tr><th>ID</th><th>Name</th><th>External ID</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
        if organizations
        else '<p class="muted">No organizations yet.</p>'
    )
    fields = "".join(
        [
            _field("Name", '<input name="name" required>'),
            _field("External ID", '<input name="external_id" placeholder="optional">'),
            '<div><button type="submit" class="primary">Add organization</button></div>',
        ]
    )
    return (
        f'<div class="card"><h2>Organizations</h2>{listed}'
        '<form method="post" action="/_emulator/organizations" style="margin-top:14px">'
        f'<div class="grid">{fields}</div></form></div>'
    )


def _faults(faults: Sequence[Mapping[str, Any]]) -> str:
    pending = "".join(
        f"<li><code>{escape(str(f['kind']))}</code> for {f['remaining']} more "
        f"{escape(str(f.get('on', 'token')))} call(s)"
        f"{_fault_details(f)}</li>"
        for f in faults
    )
    queued = (
        f'<ul class="scopes">{pending}</ul>'
        '<form method="post" action="/_emulator/faults/clear">'
        '<button type="submit" class="small danger">Clear faults</button></form>'
        if faults
        else '<p class="muted">No faults queued: calls are answered normally.</p>'
    )
    kinds = "".join(f'<option value="{k}">{k}</option>' for k in FAULT_KINDS)
    targets = "".join(f'<option value="{t}">{t} calls</option>' for t in FAULT_TARGETS)
    fields = "".join(
        [
            _field("Kind", f'<select name="kind">{kinds}</select>'),
            _field("On", f'<select name="on">{targets}</select>'),
            _field("Next N calls", '<input name="count" type="number" min="1" value="1">'),
            _field("Status", '<input name="status" type="number" value="503">'),
            _field("Retry-After", '<input name="retry_after" placeholder="seconds">'),
            _field("Delay (s)", '<input name="delay" type="number" step="0.1" value="0">'),
            '<div><button type="submit" class="primary">Inject</button></div>',
        ]
    )
    return (
        f'<div class="card"><h2>Faults</h2>{queued}'
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
    owner = data.get("user_id") or f"organization {data.get('organization_id') or ''}"
    account = f"{data.get('provider_slug', '')} / {owner}"
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
