package SluiceTest::FakePg;

# A small scriptable fake PostgreSQL server, for the tests where the server
# itself misbehaves (issue 14: hostile servers). It listens on a free port
# on 127.0.0.1 in a child process and serves each connection in a process
# of its own: answers an SSLRequest or GSSENCRequest with 'N', takes the
# startup packet, logs the client in (trust, or SCRAM-SHA-256 with a chosen
# iteration count), greets it with ParameterStatus, BackendKeyData and
# ReadyForQuery 'I', then answers simple Query messages (and Sync, with a
# ReadyForQuery) until Terminate or EOF. Only the simple query protocol.
#
#   my $fake = SluiceTest::FakePg->new(
#       query => sub {                    # optional: the script
#           my ($sql, $conn) = @_;        # $conn: {n, params, status, sock}
#           return ready('T') . ready('T') if $sql eq 'twice';   # bytes to send
#           return undef;                 # undef: the default answer
#       },
#   );
#   databases => { evil => $fake->connstr('evil') }   # for SluiceTest::Sluice
#   $fake->connections                    # how many connections it accepted
#   $fake->events                         # what happened, one line each
#
# Options:
#   query      => sub ($sql, $conn)  bytes to send for a Query; undef for the
#                 default; the string 'close' closes the connection instead,
#                 [ $bytes, 'close' ] sends them and then closes
#   greeting   => sub ($conn)  bytes sent after the default ParameterStatus
#                 messages, before BackendKeyData: extra or bloated
#                 ParameterStatus, for instance; undef for none. It may
#                 return a code ref instead, which is called with a function
#                 that writes bytes, to stream a large greeting
#   params     => { name => value }  added to (or replacing) the defaults
#   scram      => { iterations => N, password => 'pw' }, or a sub ($conn)
#                 returning one (or undef for trust): SCRAM-SHA-256 instead
#                 of trust; server-first carries `i=N`; the client's proof
#                 is not checked; with `password` the client-final-message
#                 is answered with the right server signature, without it
#                 with FATAL 28P01
#   cancel_hold => N  a CancelRequest connection is held open up to N
#                 seconds (until the peer closes it) before it is closed, as
#                 a slow PostgreSQL would: the cancel stays in flight
#   sync       => sub ($conn, \@msgs)  the answer to a Sync after extended
#                 protocol messages (@msgs: [type, body] since the last
#                 Sync); undef for a bare ReadyForQuery; the string 'hang'
#                 sends nothing and waits (up to 60 s) for the peer to close
# $conn->{n} is the connection's number (1, 2, ... in accept order), so a
# script can misbehave on the first connection only.
#
# Default answers to a Query, statement by statement (split on ';'):
# `SELECT <x>` gives one row with <x> (quotes stripped), anything else a
# CommandComplete with its first word upper-cased (two for DISCARD ALL);
# BEGIN sets the status to T, COMMIT/ROLLBACK/END back to I; then
# ReadyForQuery. Builders (exportable): msg ready command_complete
# row_description data_row error_response param_status default_answer.
#
# Teardown (END, through SluiceTest::NODES) kills the listener's process
# group (the listener and its connection processes) by its id. Children
# leave with POSIX::_exit, never through Test::More's END blocks.

use strict;
use warnings;
use Carp;
use Digest::SHA qw(sha256 hmac_sha256);
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);
use SluiceTest qw(free_port new_tempdir slurp);

our @EXPORT_OK = qw(msg ready command_complete row_description data_row error_response
		    param_status default_answer);

use constant {
	SSL_CODE    => 80877103,
	GSS_CODE    => 80877104,
	CANCEL_CODE => 80877102,
	LIFETIME    => 900,      # seconds a stray child may live at most
};

our @DEFAULT_PARAMS = (
	[ server_version              => '16.0 (sluice FakePg)' ],
	[ server_encoding             => 'UTF8' ],
	[ client_encoding             => 'UTF8' ],
	[ DateStyle                   => 'ISO, MDY' ],
	[ IntervalStyle               => 'postgres' ],
	[ TimeZone                    => 'UTC' ],
	[ integer_datetimes           => 'on' ],
	[ standard_conforming_strings => 'on' ],
	[ application_name            => '' ],
	[ is_superuser                => 'off' ],
	[ session_authorization       => 'app' ],
	[ default_transaction_read_only => 'off' ],
	[ in_hot_standby              => 'off' ],
);

sub msg { my ($t, $b) = @_; $b //= ''; return $t . pack('N', length($b) + 4) . $b }
sub ready { msg('Z', $_[0] // 'I') }
sub command_complete { msg('C', "$_[0]\0") }
sub param_status { msg('S', "$_[0]\0$_[1]\0") }

# RowDescription of text columns
sub row_description
{
	my @cols = @_;
	return msg('T', pack('n', scalar @cols)
		   . join('', map { "$_\0" . pack('NnNnNn', 0, 0, 25, -1 & 0xffff, 0xffffffff, 0) } @cols));
}

sub data_row
{
	my @vals = @_;
	return msg('D', pack('n', scalar @vals)
		   . join('', map { defined $_ ? pack('N', length $_) . $_ : pack('N', 0xffffffff) } @vals));
}

sub error_response
{
	my ($severity, $code, $message) = @_;
	return msg('E', "S$severity\0V$severity\0C$code\0M$message\0\0");
}

# The default answer to one Query (ReadyForQuery included); updates
# $conn->{status}.
sub default_answer
{
	my ($sql, $conn) = @_;
	my $out = '';
	my @stmts = grep { /\S/ } split /;/, $sql;
	@stmts = ('') unless @stmts;
	for my $st (@stmts) {
		$st =~ s/^\s+|\s+$//g;
		if ($st eq '') {
			$out .= msg('I');   # EmptyQueryResponse
		} elsif ($st =~ /^SELECT\s+(.*)$/is) {
			(my $v = $1) =~ s/^'(.*)'$/$1/s;
			$out .= row_description('?column?') . data_row($v) . command_complete('SELECT 1');
		} else {
			my @w = split /\s+/, uc $st;
			my $tag = $w[0] eq 'DISCARD' || $w[0] eq 'DEALLOCATE' ? "$w[0] " . ($w[1] // '') : $w[0];
			$conn->{status} = 'T' if $w[0] eq 'BEGIN' || $w[0] eq 'START';
			$conn->{status} = 'I' if $w[0] =~ /^(COMMIT|ROLLBACK|END|ABORT)$/;
			$out .= command_complete($tag);
		}
	}
	return $out . ready($conn->{status});
}

sub new
{
	my ($class, %o) = @_;
	my $self = bless { %o }, $class;
	$self->{dir} = new_tempdir('fakepg');
	$self->{events_file} = "$self->{dir}/events";
	$self->{port} = free_port();
	my $lsock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $self->{port},
					  Listen => 64, Proto => 'tcp', ReuseAddr => 1)
	    or croak "FakePg: listen on $self->{port}: $!";
	my $parent = $$;
	my $pid = fork() // croak "fork: $!";
	if ($pid == 0) {
		POSIX::setpgid(0, 0);
		eval { $self->listen_loop($lsock, $parent) };
		POSIX::_exit(0);
	}
	POSIX::setpgid($pid, $pid);   # as the child does: no race with stop()
	close $lsock;
	$self->{pid} = $pid;
	push @SluiceTest::NODES, $self;
	return $self;
}

sub port { $_[0]{port} }
sub host { '127.0.0.1' }

# A [databases] entry's value: host, port, dbname, and more keys given.
sub connstr
{
	my ($self, $db, %extra) = @_;
	my %kv = (host => '127.0.0.1', port => $self->{port}, dbname => $db // 'fake', %extra);
	return join(' ', map { "$_=$kv{$_}" } sort keys %kv);
}

sub events { return split /\n/, slurp($_[0]{events_file}) }
sub connections { return scalar grep { /^connect / } $_[0]->events }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', -$self->{pid};   # its own process group: listener and connections
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub teardown { $_[0]->stop }

# ---- in the child processes ----

sub event
{
	my ($self, $line) = @_;
	# one write with O_APPEND: lines of several processes do not mix
	open(my $fh, '>>', $self->{events_file}) or return;
	syswrite($fh, "$line\n");
	close $fh;
}

sub listen_loop
{
	my ($self, $lsock, $parent) = @_;
	$SIG{CHLD} = 'IGNORE';
	$SIG{PIPE} = 'IGNORE';
	my $sel = IO::Select->new($lsock);
	my $n = 0;
	my $until = time() + LIFETIME;
	while (time() < $until) {
		last if getppid() != $parent;   # the test is gone
		next unless $sel->can_read(1);
		my $sock = $lsock->accept or next;
		$n++;
		my $kid = fork();
		if (defined $kid && $kid == 0) {
			close $lsock;
			alarm(LIFETIME);
			eval { $self->serve($sock, $n) };
			$self->event("error $n: $@") if $@ && $@ !~ /^(eof|write)\n/;
			$self->event("close $n");
			POSIX::_exit(0);
		}
		close $sock;
	}
}

sub opt
{
	my ($self, $name, $conn) = @_;
	my $v = $self->{$name};
	return ref $v eq 'CODE' && $name ne 'greeting' ? $v->($conn) : $v;
}

sub put
{
	my ($conn, $bytes) = @_;
	while (length $bytes) {
		my $w = syswrite($conn->{sock}, $bytes);
		die "write\n" unless defined $w && $w > 0;
		substr($bytes, 0, $w, '');
	}
}

sub get
{
	my ($conn, $n) = @_;
	while (length($conn->{buf}) < $n) {
		my $r = sysread($conn->{sock}, my $data, 65536);
		die "eof\n" unless $r;
		$conn->{buf} .= $data;
	}
	return substr($conn->{buf}, 0, $n, '');
}

# Read and drop what the peer sends until it closes, at most $secs seconds.
sub wait_eof
{
	my ($conn, $secs) = @_;
	my $until = time() + $secs;
	my $sel = IO::Select->new($conn->{sock});
	while ((my $left = $until - time()) > 0) {
		next unless $sel->can_read($left);
		my $r = sysread($conn->{sock}, my $data, 65536);
		return unless $r;
	}
}

sub get_msg
{
	my ($conn) = @_;
	my ($type, $len) = unpack('aN', get($conn, 5));
	die "bad length $len\n" if $len < 4;
	return ($type, get($conn, $len - 4));
}

sub serve
{
	my ($self, $sock, $n) = @_;
	setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
	binmode $sock;
	my $conn = { sock => $sock, buf => '', n => $n, status => 'I', params => {} };
	$self->event("connect $n");
	# SSLRequest / GSSENCRequest, then the startup packet
	my $body;
	for (1 .. 3) {
		my $len = unpack('N', get($conn, 4));
		die "bad startup length $len\n" if $len < 8 || $len > 10000;
		$body = get($conn, $len - 4);
		my $code = unpack('N', $body);
		if ($code == SSL_CODE || $code == GSS_CODE) {
			put($conn, 'N');
			next;
		}
		if ($code == CANCEL_CODE) {
			$self->event("cancel $n");
			wait_eof($conn, $self->{cancel_hold}) if $self->{cancel_hold};
			return;
		}
		last;
	}
	my @kv = split /\0/, substr($body, 4);
	my %p = @kv % 2 ? (@kv, '') : @kv;
	$conn->{params} = \%p;
	$self->event("startup $n user=" . ($p{user} // '') . " database=" . ($p{database} // ''));

	my $scram = $self->opt('scram', $conn);
	if ($scram) {
		$self->scram_login($conn, $scram) or return;
	}
	put($conn, msg('R', pack('N', 0)));
	my %params = (map { @$_ } @DEFAULT_PARAMS);
	my @order = map { $_->[0] } @DEFAULT_PARAMS;
	for my $k (sort keys %{ $self->{params} // {} }) {
		push @order, $k unless exists $params{$k};
		$params{$k} = $self->{params}{$k};
	}
	put($conn, join('', map { param_status($_, $params{$_}) } @order));
	my $greeting = $self->{greeting};
	if ($greeting) {
		my $g = $greeting->($conn);
		if (ref $g eq 'CODE') { $g->(sub { put($conn, $_[0]) }) }
		elsif (defined $g) { put($conn, $g) }
	}
	put($conn, msg('K', pack('NN', $$, int(rand(2**31)))) . ready('I'));
	$self->event("ready $n");

	for (;;) {
		my ($type, $b) = get_msg($conn);
		if ($type eq 'X') {
			return;
		} elsif ($type eq 'Q') {
			(my $sql = $b) =~ s/\0$//;
			$self->event("query $n: $sql");
			my $answer = $self->{query} ? $self->{query}->($sql, $conn) : undef;
			my $close = 0;
			($answer, $close) = @$answer if ref $answer eq 'ARRAY';
			if (defined $answer && $answer eq 'close') {
				($answer, $close) = ('', 1);
			}
			put($conn, $answer // default_answer($sql, $conn));
			if ($close) {
				$self->event("closing $n");
				return;
			}
		} elsif ($type eq 'S') {
			my @msgs = @{ delete $conn->{extended} // [] };
			$self->event("sync $n");
			my $answer = $self->{sync} ? $self->{sync}->($conn, \@msgs) : undef;
			if (defined $answer && $answer eq 'hang') {
				wait_eof($conn, 60);
				return;
			}
			put($conn, $answer // ready($conn->{status}));
		} else {
			# other extended protocol messages: kept for the Sync's script
			push @{ $conn->{extended} }, [ $type, $b ];
		}
	}
}

# SASL with SCRAM-SHA-256 up to (and, with a password, including) the
# server-final-message. Returns true when AuthenticationOk may follow.
sub scram_login
{
	my ($self, $conn, $o) = @_;
	my $n = $conn->{n};
	put($conn, msg('R', pack('N', 10) . "SCRAM-SHA-256\0\0"));
	my ($type, $b) = get_msg($conn);
	die "expected SASLInitialResponse, got $type\n" unless $type eq 'p';
	my $mech_end = index($b, "\0");
	my $len = unpack('N', substr($b, $mech_end + 1, 4));
	my $client_first = substr($b, $mech_end + 5, $len);
	(my $bare = $client_first) =~ s/^[^,]*,[^,]*,//;
	my ($cnonce) = $bare =~ /(?:^|,)r=([^,]*)/;
	my $salt = join('', map { chr int rand 256 } 1 .. 16);
	my $iter = $o->{iterations} // 4096;
	my $server_first = "r=${cnonce}fakepgnonce,s=" . encode_base64($salt, '') . ",i=$iter";
	$self->event("scram-first $n i=$iter");
	put($conn, msg('R', pack('N', 11) . $server_first));
	($type, $b) = get_msg($conn);
	die "expected SASLResponse, got $type\n" unless $type eq 'p';
	$self->event("scram-final $n");
	my $client_final = $b;
	(my $without_proof = $client_final) =~ s/,p=[^,]*$//;
	if (!defined $o->{password}) {
		put($conn, error_response('FATAL', '28P01', 'password authentication failed (FakePg)'));
		return 0;
	}
	my $salted = SluiceTest::Proto::_pbkdf2_sha256($o->{password}, $salt, $iter);
	my $auth_message = "$bare,$server_first,$without_proof";
	my $sig = hmac_sha256($auth_message, hmac_sha256('Server Key', $salted));
	put($conn, msg('R', pack('N', 12) . 'v=' . encode_base64($sig, '')));
	return 1;
}

1;
