"""A certificate authority made for one run, and the server certificates it signs, so that the
peers can speak TLS and every twin can verify them — no twin ever turns verification off.

The CA and the keys live in a private directory of this run (mode 0700, keys 0600, marked as
the run's: harness.leftovers), removed when the peer stops; a run killed outright leaves it to
the next run's reclaiming. Nothing about a key is printed or saved in a run file. `trustme`
makes the certificates (ECDSA P-256, as its default: what a modern server would present), with
the TLS versions and ciphers left to each library's defaults.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from harness.leftovers import owned_dir, remove

# What the peers answer at: every client twin connects to 127.0.0.1, and checks the name.
SERVER_NAMES = ("127.0.0.1", "localhost")


class RunCA:
    """This run's CA: `ca_file` is what clients trust; `server()` signs a certificate."""

    def __init__(self) -> None:
        import trustme  # imported here: runs without TLS scenarios never need it

        self.dir = owned_dir("twinbench-tls-")
        try:
            self._ca = trustme.CA(organization_name="twinbench run CA")
            self.ca_file = self.dir / "ca.pem"
            self._ca.cert_pem.write_to_path(str(self.ca_file))
        except BaseException:
            remove(self.dir)
            raise

    def server(self, *names: str, label: str = "server") -> tuple[Path, Path]:
        """A certificate for `names` (default SERVER_NAMES): (chain file, key file)."""
        issued = self._ca.issue_cert(*(names or SERVER_NAMES))
        cert, key = self.dir / f"{label}.pem", self.dir / f"{label}.key"
        with open(cert, "wb") as out:
            for blob in issued.cert_chain_pems:
                out.write(blob.bytes())
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(issued.private_key_pem.bytes())
        return cert, key

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this run's CA only, names checked."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def close(self) -> None:
        remove(self.dir)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The peers' server side: the library defaults, this run's certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context
