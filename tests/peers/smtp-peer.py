"""herald's SMTP test peer: aiosmtpd on two loopback ports, both storing every message they
receive in one Maildir (aiosmtpd adds X-Peer, X-MailFrom and X-RcptTo headers).

  plain   no TLS, no AUTH (for tls = "none")
  secure  STARTTLS required, then AUTH PLAIN/LOGIN required, one user (for tls = "starttls")

Usage: smtp-peer.py HOST PLAIN_PORT SECURE_PORT MAILDIR CERT KEY USER PASSWORD
Started and stopped by tests/peers/start.sh and stop.sh.
"""
import asyncio
import signal
import ssl
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main() -> None:
    host, plain_port, secure_port, maildir, cert, key, user, password = sys.argv[1:9]
    handler = Mailbox(maildir)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), host, int(plain_port))
    )
    loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(
                handler,
                enable_SMTPUTF8=True,
                tls_context=tls,
                require_starttls=True,
                authenticator=authenticate,
                auth_required=True,
                auth_require_tls=True,
            ),
            host,
            int(secure_port),
        )
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print(f"smtp-peer: plain {host}:{plain_port}, starttls+auth {host}:{secure_port}", flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
