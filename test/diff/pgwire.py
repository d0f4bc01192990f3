"""A minimal PostgreSQL protocol-3 frontend for the differential tester.

Standard library only. One Conn is one client connection: plain TCP or TLS
(SSLRequest first), SCRAM-SHA-256, md5 or cleartext authentication, raw
message building, and reads that are bounded in time (a read that gets
nothing for `idle_timeout` seconds raises Hang).

Writes never deadlock against a server that is itself blocked writing: while
our send would block, whatever the server sends is read into the input
buffer (the way libpq's pqSendSome does). Reads can be done in one gulp or
one byte at a time.
"""

import base64
import hashlib
import hmac
import os
import select
import socket
import ssl
import struct
import time


class Hang(Exception):
    """Nothing arrived for idle_timeout seconds while we waited."""


class Closed(Exception):
    """The peer closed the connection."""


class ProtoError(Exception):
    """The peer sent something we cannot frame, or login failed."""


# ---- building frontend messages ----

def cstr(s):
    if isinstance(s, str):
        s = s.encode('utf-8')
    return s + b'\0'


def msg(t, body=b''):
    return t.encode() + struct.pack('!I', len(body) + 4) + body


def startup_packet(params):
    body = struct.pack('!I', 196608)
    for k, v in params.items():
        body += cstr(k) + cstr(v)
    body += b'\0'
    return struct.pack('!I', len(body) + 4) + body


def ssl_request():
    return struct.pack('!II', 8, 80877103)


def cancel_request(pid, key):
    return struct.pack('!IIII', 16, 80877102, pid, key)


def query(sql):
    return msg('Q', cstr(sql))


def parse(name, sql, oids):
    body = cstr(name) + cstr(sql) + struct.pack('!H', len(oids))
    for o in oids:
        body += struct.pack('!I', o)
    return msg('P', body)


def bind(portal, stmt, pformats, params, rformats):
    body = cstr(portal) + cstr(stmt)
    body += struct.pack('!H', len(pformats)) + b''.join(struct.pack('!H', f) for f in pformats)
    body += struct.pack('!H', len(params))
    for p in params:
        if p is None:
            body += struct.pack('!i', -1)
        else:
            body += struct.pack('!i', len(p)) + p
    body += struct.pack('!H', len(rformats)) + b''.join(struct.pack('!H', f) for f in rformats)
    return msg('B', body)


def describe(kind, name):
    return msg('D', kind.encode() + cstr(name))


def execute(portal, maxrows):
    return msg('E', cstr(portal) + struct.pack('!I', maxrows))


def close(kind, name):
    return msg('C', kind.encode() + cstr(name))


def function_call(oid, aformats, args, rformat):
    body = struct.pack('!IH', oid, len(aformats)) + b''.join(struct.pack('!H', f) for f in aformats)
    body += struct.pack('!H', len(args))
    for a in args:
        body += struct.pack('!i', -1) if a is None else struct.pack('!i', len(a)) + a
    return msg('F', body + struct.pack('!H', rformat))


def flush():
    return msg('H')


def sync():
    return msg('S')


def terminate():
    return msg('X')


def copy_data(b):
    return msg('d', b)


def copy_done():
    return msg('c')


def copy_fail(text):
    return msg('f', cstr(text))


# ---- parsing backend messages ----

def error_fields(body):
    """{field code: value} of an ErrorResponse or NoticeResponse body."""
    out = {}
    i = 0
    while i < len(body) and body[i] != 0:
        code = chr(body[i])
        j = body.index(b'\0', i + 1)
        out[code] = body[i + 1:j].decode('utf-8', 'replace')
        i = j + 1
    return out


def build_error_body(fields):
    out = b''
    for code, val in fields:
        out += code.encode() + cstr(val)
    return out + b'\0'


# ---- SCRAM-SHA-256 (RFC 5802/7677), client side ----

def _hi(password, salt, iters):
    return hashlib.pbkdf2_hmac('sha256', password, salt, iters)


class Scram:
    def __init__(self, password):
        self.password = password.encode('utf-8')
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = 'n=,r=' + self.nonce

    def client_first(self):
        return ('n,,' + self.first_bare).encode()

    def client_final(self, server_first):
        sf = server_first.decode()
        attrs = dict(kv.split('=', 1) for kv in sf.split(','))
        if not attrs['r'].startswith(self.nonce):
            raise ProtoError('SCRAM: server nonce does not extend ours')
        salt = base64.b64decode(attrs['s'])
        iters = int(attrs['i'])
        salted = _hi(self.password, salt, iters)
        client_key = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_wo_proof = 'c=biws,r=' + attrs['r']
        auth_msg = ','.join([self.first_bare, sf, final_wo_proof]).encode()
        sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
        self.server_sig = hmac.new(server_key, auth_msg, hashlib.sha256).digest()
        return (final_wo_proof + ',p=' + base64.b64encode(proof).decode()).encode()

    def verify(self, server_final):
        attrs = dict(kv.split('=', 1) for kv in server_final.decode().split(','))
        if 'v' not in attrs or base64.b64decode(attrs['v']) != self.server_sig:
            raise ProtoError('SCRAM: bad server signature')


# ---- the connection ----

class Progress:
    """When any of a run's connections last received a byte. A connection
    that waits while another makes progress is not hung: through a pooler
    with fewer servers than clients, a client waits, silent, for as long as
    the transactions (or sessions) ahead of it take. A hang is a wait that
    outlasts idle_timeout of silence everywhere."""

    def __init__(self):
        self.last = time.monotonic()

    def note(self):
        self.last = time.monotonic()


class Conn:
    def __init__(self, host, port, idle_timeout=10.0, tls=False, bytewise=False, progress=None):
        self.idle_timeout = idle_timeout
        self.progress = progress
        self.rbuf = bytearray()
        self.eof = False
        self.bytewise = bytewise
        self.sock = socket.create_connection((host, port), timeout=idle_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock.sendall(ssl_request())
            a = self._recv_exact_blocking(1)
            if a != b'S':
                raise ProtoError('server refused SSLRequest: %r' % a)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.sock.setblocking(False)
        self.tls = tls

    def _recv_exact_blocking(self, n):
        out = b''
        while len(out) < n:
            b = self.sock.recv(n - len(out))
            if not b:
                raise Closed('closed during SSLRequest')
            out += b
        return out

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # one recv into rbuf; False when it would block
    def _recv_some(self):
        n = 1 if self.bytewise else 65536
        try:
            b = self.sock.recv(n)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise Closed(str(e))
        if not b:
            self.eof = True
            return True
        self.rbuf += b
        if self.progress:
            self.progress.note()
        return True

    def quiet_since(self, mine):
        """The start of the silence that counts: this connection's last
        byte, or any connection's of the run when that came later."""
        return max(mine, self.progress.last) if self.progress else mine

    def send(self, data, chunk=0):
        """Send all of data (in pieces of `chunk` bytes when > 0), reading
        what the server sends meanwhile so neither side blocks forever."""
        pieces = [data] if chunk <= 0 else [data[i:i + chunk] for i in range(0, len(data), chunk)]
        for piece in pieces:
            view = memoryview(piece)
            last = time.monotonic()
            while len(view):
                try:
                    n = self.sock.send(view)
                    view = view[n:]
                    last = time.monotonic()
                    continue
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (ConnectionResetError, BrokenPipeError) as e:
                    raise Closed(str(e))
                r, w, _ = select.select([self.sock], [self.sock], [], 0.5)
                if r and not self.eof:
                    if self._recv_some():
                        last = time.monotonic()
                if w:
                    continue
                if time.monotonic() - self.quiet_since(last) > self.idle_timeout:
                    raise Hang('send blocked for %.0f s' % self.idle_timeout)

    def _frame(self):
        if len(self.rbuf) < 5:
            return None
        t = chr(self.rbuf[0])
        ln = struct.unpack_from('!I', self.rbuf, 1)[0]
        if ln < 4 or ln > (1 << 30):
            raise ProtoError('bad length %d for message %r' % (ln, t))
        if len(self.rbuf) < 1 + ln:
            return None
        body = bytes(self.rbuf[5:1 + ln])
        del self.rbuf[:1 + ln]
        return (t, body)

    def read_msg(self, timeout=None):
        """The next backend message (type char, body); Closed at EOF, Hang
        after idle_timeout seconds without a byte."""
        timeout = self.idle_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            m = self._frame()
            if m:
                return m
            if self.eof:
                if self.rbuf:
                    raise ProtoError('EOF inside a message')
                raise Closed('EOF')
            if self.tls and self.sock.pending():
                self._recv_some()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                deadline = self.quiet_since(deadline - timeout) + timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Hang('nothing for %.0f s' % timeout)
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if r:
                if self._recv_some():
                    deadline = time.monotonic() + timeout

    def poll_msg(self):
        """A message if one is already complete or readable now, else None."""
        m = self._frame()
        if m or self.eof:
            return m
        r, _, _ = select.select([self.sock], [], [], 0)
        if r or (self.tls and self.sock.pending()):
            self._recv_some()
        return self._frame()

    # ---- login ----

    def login(self, user, database, password, params=None):
        """Startup and authentication. Returns the list of messages from the
        first one after authentication up to and including ReadyForQuery
        (AuthenticationOk first). Raises ProtoError on an ErrorResponse."""
        p = {'user': user, 'database': database}
        p.update(params or {})
        self.send(startup_packet(p))
        scram = None
        out = []
        while True:
            t, body = self.read_msg()
            if t == 'E':
                raise ProtoError('login failed: %s' % error_fields(body).get('M'))
            if t == 'R':
                code = struct.unpack_from('!I', body)[0]
                if code == 0:
                    out.append((t, body))
                elif code == 3:
                    self.send(msg('p', cstr(password)))
                elif code == 5:
                    salt = body[4:8]
                    inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
                    outer = 'md5' + hashlib.md5(inner.encode() + salt).hexdigest()
                    self.send(msg('p', cstr(outer)))
                elif code == 10:
                    mechs = body[4:].split(b'\0')
                    if b'SCRAM-SHA-256' not in mechs:
                        raise ProtoError('no SCRAM-SHA-256 offered: %r' % mechs)
                    scram = Scram(password)
                    first = scram.client_first()
                    self.send(msg('p', cstr('SCRAM-SHA-256') + struct.pack('!i', len(first)) + first))
                elif code == 11:
                    self.send(msg('p', scram.client_final(body[4:])))
                elif code == 12:
                    scram.verify(body[4:])
                else:
                    raise ProtoError('unsupported authentication request %d' % code)
                continue
            out.append((t, body))
            if t == 'Z':
                return out


def send_cancel(host, port, pid, key, timeout=10.0):
    """One CancelRequest on a new connection; waits (bounded) for the peer
    to close it, so the request has been taken in when this returns."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(cancel_request(pid, key))
        s.settimeout(timeout)
        try:
            while s.recv(64):
                pass
        except (socket.timeout, OSError):
            pass
    finally:
        s.close()
