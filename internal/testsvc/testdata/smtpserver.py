"""An SMTP server for healthd's smtp and tls checks' tests (aiosmtpd).

Usage: smtpserver.py PORT [--cert FILE --key FILE] [--implicit-tls]
                          [--user NAME --password PW] [--hang-ehlo-while FILE]

With --cert and --key it offers STARTTLS (or, with --implicit-tls, speaks
TLS from the first byte); with --user and --password it offers AUTH PLAIN
and LOGIN once the connection is encrypted, accepting that one pair and
refusing any other. With --hang-ehlo-while, EHLO is not answered while FILE
exists: the session has its banner and then hangs, as a server does whose
handler is stuck (its event loop still runs; only that session waits). It
accepts no mail: the checks never send any. Prints
"ready" once it listens.
"""
import argparse
import asyncio
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Refuse:
    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 this test server accepts no mail"


class HangEHLO(Refuse):
    """Refuse, and while the file at flag exists, an EHLO handler that awaits
    (asyncio, so the server keeps accepting and greeting other sessions)."""

    def __init__(self, flag):
        self.flag = flag

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        while os.path.exists(self.flag):
            await asyncio.sleep(0.02)
        session.host_name = hostname
        return responses


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--hang-ehlo-while")
    a = p.parse_args()

    kw = {}
    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    if ctx and a.implicit_tls:
        kw["ssl_context"] = ctx
    elif ctx:
        kw["tls_context"] = ctx
    if a.user:
        user, pw = a.user.encode(), a.password.encode()

        def authenticator(server, session, envelope, mechanism, data):
            # handled=False: aiosmtpd then answers 535 itself (the default,
            # True, means the authenticator has answered).
            return AuthResult(success=data.login == user and data.password == pw, handled=False)

        kw["authenticator"] = authenticator
        kw["auth_require_tls"] = not a.implicit_tls  # implicit TLS is TLS already

    handler = HangEHLO(a.hang_ehlo_while) if a.hang_ehlo_while else Refuse()
    c = Controller(handler, hostname="127.0.0.1", port=a.port, server_hostname="smtp.test", **kw)
    c.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
