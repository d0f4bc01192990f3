"""A private PostgreSQL and a pooler (sluice or PgBouncer) for the
differential tester, started the way the Perl harness (test/lib/SluiceTest)
starts them: initdb as `postgres` when we are root, SCRAM everywhere, free
ports reserved with the harness's lock files, every wait bounded.
"""

import os
import shlex
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pgwire

PG_BINDIR = os.environ.get('PG_BINDIR', '/usr/lib/postgresql/15/bin')
SUPERPW = 'difftest-super-pw'
APP_USER = 'app'
APP_PW = 'app-pw'
DB = 'difftest'

_port_locks = []


def is_root():
    return os.geteuid() == 0


def postgres_ids():
    p = pwd.getpwnam('postgres')
    return p.pw_uid, p.pw_gid


def tmp_root():
    d = os.environ.get('SLUICE_TEST_TMPDIR') or os.environ.get('TMPDIR') or '/tmp'
    return d if os.path.isdir(d) and os.access(d, os.W_OK) else '/tmp'


def free_port():
    """A port nothing listens on, with a lock file other harness processes
    (Perl's SluiceTest::free_port uses the same directory) respect."""
    lockdir = os.path.join(tmp_root(), 'sluice-test-portlocks')
    try:
        os.mkdir(lockdir, 0o1777)
    except FileExistsError:
        pass
    for _ in range(200):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        lock = os.path.join(lockdir, str(port))
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, b'%d\n' % os.getpid())
            os.close(fd)
            _port_locks.append(lock)
            return port
        except FileExistsError:
            try:
                pid = int(open(lock).read().split()[0])
                os.kill(pid, 0)
            except (ValueError, IndexError, ProcessLookupError, OSError):
                try:
                    os.unlink(lock)
                except OSError:
                    pass
    raise RuntimeError('no free port')


def release_ports():
    for lock in _port_locks:
        try:
            os.unlink(lock)
        except OSError:
            pass
    del _port_locks[:]


def _as_postgres(argv):
    return ['runuser', '-u', 'postgres', '--'] + argv if is_root() else argv


def _chown_pg(path):
    if is_root():
        uid, gid = postgres_ids()
        os.chown(path, uid, gid)


def wait_port(port, timeout=30, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def simple(conn, sql):
    """Run sql on a logged-in Conn; the list of messages up to ReadyForQuery."""
    conn.send(pgwire.query(sql))
    out = []
    while True:
        m = conn.read_msg()
        out.append(m)
        if m[0] == 'Z':
            return out


def check(conn, sql):
    out = simple(conn, sql)
    for t, b in out:
        if t == 'E':
            raise RuntimeError('%s: %s' % (sql, pgwire.error_fields(b).get('M')))
    return out


class Pg:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix='sluice-diffpg-', dir=tmp_root())
        _chown_pg(self.base)
        os.chmod(self.base, 0o700)
        self.data = os.path.join(self.base, 'data')
        self.log = os.path.join(self.base, 'postgres.log')
        self.port = free_port()
        pwfile = os.path.join(self.base, 'pw')
        with open(pwfile, 'w') as f:
            f.write(SUPERPW + '\n')
        _chown_pg(pwfile)
        self._run([os.path.join(PG_BINDIR, 'initdb'), '-D', self.data, '-U', 'postgres',
                   '--auth=scram-sha-256', '--pwfile=' + pwfile, '-E', 'UTF8', '--locale=C',
                   '--no-sync', '--no-instructions'])
        os.unlink(pwfile)
        with open(os.path.join(self.data, 'postgresql.conf'), 'a') as f:
            f.write('\n'.join([
                "listen_addresses = '127.0.0.1'", 'port = %d' % self.port,
                "unix_socket_directories = '%s'" % self.base,
                'fsync = off', 'synchronous_commit = off', 'full_page_writes = off',
                "password_encryption = 'scram-sha-256'", 'shared_buffers = 32MB',
                'max_connections = 150', "log_line_prefix = '%m [%p] '", '']))
        self.running = False
        self.start()
        c = self.connect('postgres', 'postgres', SUPERPW)
        check(c, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (APP_USER, APP_PW))
        check(c, 'CREATE DATABASE %s OWNER %s' % (DB, APP_USER))
        c.close()

    def _run(self, argv):
        r = subprocess.run(_as_postgres(argv), cwd=self.base, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError('%s failed: %s' % (argv[0], r.stdout.decode(errors='replace')))

    def start(self):
        self._run([os.path.join(PG_BINDIR, 'pg_ctl'), '-D', self.data, '-l', self.log,
                   '-w', '-t', '60', 'start'])
        self.running = True

    def stop(self):
        if self.running:
            self._run([os.path.join(PG_BINDIR, 'pg_ctl'), '-D', self.data, '-m', 'immediate',
                       '-w', '-t', '60', 'stop'])
            self.running = False

    def connect(self, user, db, password):
        c = pgwire.Conn('127.0.0.1', self.port)
        c.login(user, db, password)
        return c

    def reset(self):
        """Empty the test database's schema: every client starts from
        nothing, in the direct run and in the pooled one."""
        c = self.connect('postgres', DB, SUPERPW)
        check(c, 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public AUTHORIZATION %s' % APP_USER)
        c.close()

    def backends(self):
        c = self.connect('postgres', 'postgres', SUPERPW)
        out = simple(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'" % DB)
        c.close()
        return int([b for t, b in out if t == 'D'][0][6:].decode())

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.base, ignore_errors=True)


def make_cert(dirpath):
    """A throwaway self-signed certificate for the pooler's client side."""
    cert = os.path.join(dirpath, 'server.crt')
    key = os.path.join(dirpath, 'server.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
                    '-keyout', key, '-out', cert], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return cert, key


# a sanitizer, BUG or leak line in a pooler's log fails the run
def bad_log_lines(text):
    out = []
    for line in text.splitlines():
        low = line.lower()
        if (' BUG' in line or line.startswith('BUG') or 'AddressSanitizer' in line
                or 'LeakSanitizer' in line or 'runtime error:' in line
                or ' leak' in low):
            out.append(line)
    return out


class Pooler:
    """sluice (or PgBouncer when kind == 'pgbouncer') in front of pg with
    one database entry, `difftest`, in the given mode and pool size."""

    def __init__(self, pg, mode, pool_size, tls=False, kind='sluice', binary=None,
                 max_prepared=100):
        self.pg = pg
        self.kind = kind
        self.mode = mode
        self.tls = tls
        self.bin = binary
        self.as_pg = kind == 'pgbouncer' and is_root()
        self.dir = tempfile.mkdtemp(prefix='sluice-diffpool-', dir=tmp_root())
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.logfile = os.path.join(self.dir, 'pooler.log')
        self.stderr = os.path.join(self.dir, 'pooler.stderr')
        ini = os.path.join(self.dir, 'pooler.ini')
        users = os.path.join(self.dir, 'userlist.txt')
        with open(users, 'w') as f:
            f.write('"%s" "%s"\n' % (APP_USER, APP_PW))
        s = {
            'listen_addr': '127.0.0.1', 'listen_port': str(self.port),
            'unix_socket_dir': self.dir, 'auth_type': 'scram-sha-256',
            'auth_file': users, 'logfile': self.logfile, 'pool_mode': mode,
            'default_pool_size': str(pool_size), 'max_client_conn': '300',
        }
        if kind == 'sluice':
            s['max_prepared_statements'] = str(max_prepared)
        # sluice, like PgBouncer, refuses a login with a startup parameter
        # it does not track (config.md); deployments list this one, which
        # psycopg and pgjdbc send. The workload prints no float.
        s['ignore_startup_parameters'] = 'extra_float_digits'
        if tls:
            cert, key = make_cert(self.dir)
            s.update({'client_tls_sslmode': 'prefer', 'client_tls_cert_file': cert,
                      'client_tls_key_file': key})
        text = '[databases]\n%s = host=127.0.0.1 port=%d dbname=%s pool_size=%d\n\n[%s]\n' % (
            DB, pg.port, DB, pool_size, 'pgbouncer' if kind == 'pgbouncer' else 'sluice')
        text += ''.join('%s = %s\n' % kv for kv in sorted(s.items()))
        with open(ini, 'w') as f:
            f.write(text)
        for p in os.listdir(self.dir):
            _chown_pg(os.path.join(self.dir, p)) if self.as_pg else None
        if self.as_pg:
            _chown_pg(self.dir)
        self.ini = ini
        self.proc = None
        self.exit_status = None
        self.start()

    def start(self):
        err = open(self.stderr, 'ab')
        # DIFF_POOLER_ARGS: more arguments for the pooler ("-v -v" for
        # sluice's DEBUG lines when looking into a difference)
        argv = [self.bin] + shlex.split(os.environ.get('DIFF_POOLER_ARGS', '')) + [self.ini]
        if self.as_pg:
            argv = ['runuser', '-u', 'postgres', '--'] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     cwd=self.dir)
        err.close()
        if not wait_port(self.port, 30, self.proc):
            raise RuntimeError('%s did not start:\n%s' % (self.kind, self.log_text()[-3000:]))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait (KILL after 15 s); the exit status."""
        if self.proc is None:
            return self.exit_status
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_status = 'hung on SIGTERM'
                self.proc = None
                return self.exit_status
        self.exit_status = self.proc.returncode
        self.proc = None
        return self.exit_status

    def log_text(self):
        out = ''
        for p in (self.logfile, self.stderr):
            try:
                with open(p, 'rb') as f:
                    out += f.read().decode('utf-8', 'replace')
            except OSError:
                pass
        return out

    def problems(self):
        """After stop(): a crash, an unclean exit, or bad log lines."""
        out = []
        st = self.exit_status
        # PgBouncer 1.18 exits 1 on SIGTERM; run through runuser (as
        # postgres) the wrapper may report the signal itself
        ok = (0, 1, -15) if self.kind == 'pgbouncer' else (0,)
        if st not in ok:
            out.append('%s exit status %r' % (self.kind, st))
        out += bad_log_lines(self.log_text())
        return out

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
