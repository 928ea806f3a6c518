"""A real Request Tracker 5 for the connector's tests and scripts/bench_rt.py: Debian's request-tracker5 with a
fresh SQLite database in a folder of its own, the queues of a mapping file, the custom fields, the connector's
user and an agent (with REST2 auth tokens), served by RT's standalone server on a free loopback port.

Nothing of the package's own configuration is used: RT_SITE_CONFIG points at a file written here and
RT_SITE_CONFIG_DIR at an empty folder (so /etc/request-tracker5/RT_SiteConfig.d is not read)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

RT_HOME = Path("/usr/share/request-tracker5")
RT_SERVER = RT_HOME / "libexec" / "rt-server"
RT_SETUP = Path("/usr/sbin/rt-setup-database-5")
CUSTOM_FIELDS = ("Category", "Product", "Error code", "Tier", "Frontdoor reference")
AGENT = "alice"  # an RT agent (real name "Alice Agent")
CONNECTOR = "frontdoor"  # the connector's RT user


def installed() -> bool:
    return RT_SERVER.exists() and RT_SETUP.exists()


def _perl_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


SITE_CONFIG = """Set($rtname, 'frontdoor-test');
Set($Organization, 'frontdoor.test');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, {db});
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebPath, '');
Set($WebBaseURL, 'http://127.0.0.1:{port}');
Set($MailCommand, 'mbox');
Set($LogDir, {folder});
Set($LogToFile, 'warning');
Set($LogToFileNamed, 'rt.log');
Set($LogToSTDERR, 'error');
Set($LogToSyslog, undef);
Set($Timezone, 'UTC');
Set($CorrespondAddress, 'rt@frontdoor.test');
Set($CommentAddress, 'rt-comment@frontdoor.test');
1;
"""

# queues, custom fields (for tickets, applied globally), the connector's user and an agent with the rights
# they need, and an auth token for each (printed to FRONTDOOR_RT_TOKENS as name=token lines)
SETUP_DATA = """@Queues = map {{ {{ Name => $_, Description => "frontdoor: $_", CorrespondAddress => '', CommentAddress => '' }} }}
  ({queues});
@CustomFields = map {{ {{ Name => $_, Type => 'FreeformSingle', LookupType => 'RT::Queue-RT::Ticket', Queue => 0,
                        Description => "frontdoor: $_" }} }} ({custom_fields});
@Users = (
  {{ Name => '{connector}', EmailAddress => 'connector@frontdoor.test', RealName => 'frontdoor connector', Privileged => 1 }},
  {{ Name => '{agent}', EmailAddress => 'alice@frontdoor.test', RealName => 'Alice Agent', Privileged => 1 }},
);
@ACL = map {{ {{ GroupDomain => 'SystemInternal', GroupType => 'Privileged', Right => $_ }} }}
  qw(SeeQueue ShowTicket CreateTicket ModifyTicket ReplyToTicket CommentOnTicket ShowTicketComments OwnTicket
     SeeCustomField ModifyCustomField SetInitialCustomField ManageAuthTokens Watch);
@Final = (sub {{
  my %out;
  for my $name ('{connector}', '{agent}') {{
    my $user = RT::User->new(RT->SystemUser); $user->Load($name);
    my $token = RT::AuthToken->new(RT::CurrentUser->new($user));
    my ($id, $msg, $auth) = $token->Create(Owner => $user->Id, Description => 'frontdoor tests');
    die "token for $name: $msg" unless $id;
    $out{{$name}} = $auth;
  }}
  open my $fh, '>', $ENV{{FRONTDOOR_RT_TOKENS}} or die "$ENV{{FRONTDOOR_RT_TOKENS}}: $!";
  print $fh join("\\n", map {{ "$_=$out{{$_}}" }} sort keys %out), "\\n";
  close $fh;
}});
1;
"""


@dataclass
class RTServer:
    folder: Path
    port: int
    queues: tuple[str, ...]
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "RT_SITE_CONFIG": str(self.folder / "RT_SiteConfig.pm"),
                "RT_SITE_CONFIG_DIR": str(self.folder / "RT_SiteConfig.d"),
                "FRONTDOOR_RT_TOKENS": str(self.folder / "tokens")}

    @classmethod
    def for_mapping(cls, folder: Path, port: int, mapping_file: Path) -> RTServer:
        queues = yaml.safe_load(mapping_file.read_text())["queues"].values()
        return cls(folder, port, tuple(sorted(set(queues))))

    def setup(self) -> None:
        """A fresh database with the queues, custom fields, users and tokens."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "RT_SiteConfig.d").mkdir(exist_ok=True)
        db = self.folder / "rt.db"
        db.unlink(missing_ok=True)
        (self.folder / "RT_SiteConfig.pm").write_text(SITE_CONFIG.format(
            db=_perl_string(str(db)), port=self.port, folder=_perl_string(str(self.folder))))
        (self.folder / "setup.pl").write_text(SETUP_DATA.format(
            queues=", ".join(_perl_string(q) for q in self.queues),
            custom_fields=", ".join(_perl_string(c) for c in CUSTOM_FIELDS), connector=CONNECTOR, agent=AGENT))
        log = self.folder / "setup.log"
        with log.open("wb") as out:
            for args in (["--action", "init", "--skip-create"],
                         ["--action", "insert", "--datafile", str(self.folder / "setup.pl")]):
                code = subprocess.run([str(RT_SETUP), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, timeout=300).returncode
                if code != 0:
                    raise RuntimeError(f"rt-setup-database {' '.join(args)} failed:\n{log.read_text()[-3000:]}")
        self.tokens = dict(line.split("=", 1) for line in (self.folder / "tokens").read_text().split())

    def start(self, timeout: float = 120.0) -> None:
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            ["perl", str(RT_SERVER), "--port", str(self.port), "--host", "127.0.0.1", "--max-workers", "4"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rt-server exited:\n{(self.folder / 'server.log').read_text()[-3000:]}")
            if self.ready():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rt-server did not answer within {timeout:.0f} s")

    def ready(self) -> bool:
        request = urllib.request.Request(self.url + "/REST/2.0/rt",
                                         headers={"Authorization": f"token {self.tokens.get(CONNECTOR, '')}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the server and its workers
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
