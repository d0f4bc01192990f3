package SluiceTest::Proto;

# A raw PostgreSQL protocol 3 frontend over a plain socket, for the tests
# that need to control bytes on the wire (split writes, bad input, exact
# ErrorResponse fields). Authentication: trust, cleartext, md5 and
# SCRAM-SHA-256 (pure Perl over Digest::SHA).
#
#   my $c = SluiceTest::Proto->connect(host => '127.0.0.1', port => $p);   # or host => '/socket/dir'
#   my $r = $c->login(user => 'app', password => 'pw', database => 'app');
#   $r->{ok} or print error_text($r->{error});   # $r->{error}{C} is the SQLSTATE
#   my $q = $c->query('SELECT 1');               # {rows, columns, tags, errors, notices, status}
#   $c->send($bytes, bytewise => 1, delay => 0.002);
#   my ($type, $body) = $c->read_msg;            # () on EOF or timeout ($c->{eof}, $c->{timed_out})
#   my ($eof, $data) = $c->wait_eof(5);          # read until the peer closes
#
# Builders: startup_packet(\%params, $version), ssl_request(), gssenc_request(),
# cancel_request($pid, $key), msg($type, $body).

use strict;
use warnings;
use Carp;
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha256 hmac_sha256);
use Errno qw(EINTR);
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use MIME::Base64 qw(encode_base64 decode_base64);
use Socket qw(IPPROTO_TCP TCP_NODELAY SOCK_STREAM);
use Time::HiRes qw(time);

our @EXPORT_OK = qw(startup_packet ssl_request gssenc_request cancel_request msg
		    parse_error error_text md5_password);

$SIG{PIPE} = 'IGNORE';

use constant {
	PROTO_3_0  => 196608,          # 3 << 16
	SSL_CODE   => 80877103,
	GSS_CODE   => 80877104,
	CANCEL_CODE => 80877102,
};

sub startup_packet
{
	my ($params, $version) = @_;
	my @kv;
	if (ref $params eq 'ARRAY') { @kv = @$params }
	else { @kv = map { ($_, $params->{$_}) } sort keys %$params }
	my $body = pack('N', $version // PROTO_3_0) . join('', map { "$_\0" } @kv) . "\0";
	return pack('N', length($body) + 4) . $body;
}

sub ssl_request    { pack('NN', 8, SSL_CODE) }
sub gssenc_request { pack('NN', 8, GSS_CODE) }
sub cancel_request { pack('NNNN', 16, CANCEL_CODE, $_[0], $_[1]) }
sub msg            { my ($t, $b) = @_; $b //= ''; return $t . pack('N', length($b) + 4) . $b }

sub md5_password
{
	my ($password, $user) = @_;
	return 'md5' . md5_hex($password . $user);
}

# ErrorResponse / NoticeResponse body -> { S => 'FATAL', C => '28P01', M => ... }
sub parse_error
{
	my ($body) = @_;
	my %f;
	for my $field (split /\0/, $body // '') {
		next unless length $field;
		$f{ substr($field, 0, 1) } = substr($field, 1);
	}
	return \%f;
}

sub error_text
{
	my ($e) = @_;
	return '(no error)' unless $e;
	return join(' ', grep { defined } $e->{S}, $e->{C} ? "$e->{C}:" : undef, $e->{M} // '(no message)');
}

# host: an address, or a directory (starting with /) holding the unix
# socket .s.PGSQL.<port>, as libpq reads it.
sub connect
{
	my ($class, %o) = @_;
	my $host = $o{host} // '127.0.0.1';
	my $sock;
	if ($host =~ m{^/}) {
		$sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$host/.s.PGSQL.$o{port}")
		    or croak "connect to $host/.s.PGSQL.$o{port}: $!";
	} else {
		$sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $o{port},
					      Proto => 'tcp', Timeout => $o{timeout} // 10)
		    or croak "connect to port $o{port}: $!";
		setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
	}
	binmode $sock;
	return bless { sock => $sock, buf => '', timeout => $o{timeout} // 10,
		       eof => 0, timed_out => 0 }, $class;
}

sub sock { $_[0]{sock} }

# Send bytes; with bytewise => 1, one write per byte, with `delay` seconds
# (default 2 ms) between them so they leave as separate segments.
# Returns false if the peer has gone.
sub send
{
	my ($self, $bytes, %o) = @_;
	return 0 unless $self->{sock};
	my @chunks = $o{bytewise} ? split(//, $bytes) : ($bytes);
	my $delay = $o{delay} // 0.002;
	for my $i (0 .. $#chunks) {
		my $c = $chunks[$i];
		while (length $c) {
			my $n = syswrite($self->{sock}, $c);
			if (!defined $n) {
				next if $! == EINTR;
				$self->{send_error} = "$!";
				return 0;
			}
			substr($c, 0, $n, '');
		}
		select(undef, undef, undef, $delay) if $o{bytewise} && $i < $#chunks && $delay > 0;
	}
	return 1;
}

# Read more into the buffer; false on EOF, error or timeout.
sub _fill
{
	my ($self, $deadline) = @_;
	return 0 if $self->{eof} || !$self->{sock};
	my $sel = IO::Select->new($self->{sock});
	while (1) {
		my $left = $deadline - time();
		if ($left <= 0) { $self->{timed_out} = 1; return 0 }
		last if $sel->can_read($left);
	}
	my $n = sysread($self->{sock}, my $data, 65536);
	if (!defined $n) {
		return $self->_fill($deadline) if $! == EINTR;
		$self->{read_error} = "$!";
		$self->{eof} = 1;
		return 0;
	}
	if ($n == 0) { $self->{eof} = 1; return 0 }
	$self->{buf} .= $data;
	return 1;
}

sub read_bytes
{
	my ($self, $n, $timeout) = @_;
	my $deadline = time() + ($timeout // $self->{timeout});
	$self->{timed_out} = 0;
	while (length($self->{buf}) < $n) {
		return undef unless $self->_fill($deadline);
	}
	return substr($self->{buf}, 0, $n, '');
}

# One backend message: ($type, $body), or () on EOF / timeout / a length
# under 4 (then $self->{bad_length} is set).
sub read_msg
{
	my ($self, $timeout) = @_;
	my $deadline = time() + ($timeout // $self->{timeout});
	$self->{timed_out} = 0;
	while (length($self->{buf}) < 5) {
		return () unless $self->_fill($deadline);
	}
	my ($type, $len) = unpack('aN', $self->{buf});
	if ($len < 4) { $self->{bad_length} = $len; return () }
	while (length($self->{buf}) < 1 + $len) {
		return () unless $self->_fill($deadline);
	}
	my $msg = substr($self->{buf}, 0, 1 + $len, '');
	return ($type, substr($msg, 5));
}

# Read until the peer closes. Returns (1, bytes read) on EOF, (0, bytes)
# when the timeout passed first.
sub wait_eof
{
	my ($self, $timeout) = @_;
	my $deadline = time() + ($timeout // $self->{timeout});
	$self->{timed_out} = 0;
	1 while $self->_fill($deadline);
	my $data = $self->{buf};
	$self->{buf} = '';
	return ($self->{eof} ? 1 : 0, $data);
}

sub close
{
	my ($self) = @_;
	close $self->{sock} if $self->{sock};
	$self->{sock} = undef;
}

sub terminate
{
	my ($self) = @_;
	$self->send(msg('X'));
	$self->close;
}

sub _pbkdf2_sha256
{
	my ($password, $salt, $iter) = @_;
	my $u = hmac_sha256($salt . pack('N', 1), $password);
	my $out = $u;
	for (2 .. $iter) {
		$u = hmac_sha256($u, $password);
		$out ^= $u;
	}
	return $out;
}

# Log in. Options: user, password, database, params (more startup
# parameters), version (protocol number), startup (raw bytes to send instead
# of a built packet), bytewise/delay (how to send every message), timeout.
# Returns { ok => 1, params => {...}, backend_pid, backend_key, auth => [codes],
# negotiate => {minor, options}, notices => [...] } or { error => {...} }
# (error => { M => '...' } with no C when the connection just closed).
sub login
{
	my ($self, %o) = @_;
	my %send = (bytewise => $o{bytewise}, delay => $o{delay});
	my %params = (user => $o{user}, %{ $o{params} // {} });
	$params{database} = $o{database} if defined $o{database};
	my $r = { params => {}, auth => [], notices => [] };
	$self->send($o{startup} // startup_packet(\%params, $o{version}), %send)
	    or return { %$r, error => { M => "send failed: $self->{send_error}" } };
	my ($scram_nonce, $client_first_bare, $auth_message, $salted);
	while (1) {
		my ($type, $body) = $self->read_msg($o{timeout});
		if (!defined $type) {
			my $why = $self->{timed_out} ? 'timed out' : 'connection closed';
			return { %$r, error => { M => "$why during login" } };
		}
		if ($type eq 'R') {
			my $code = unpack('N', $body);
			push @{ $r->{auth} }, $code;
			if ($code == 0) {
				next;
			} elsif ($code == 3) {
				$self->send(msg('p', ($o{password} // '') . "\0"), %send);
			} elsif ($code == 5) {
				my $salt = substr($body, 4, 4);
				my $inner = md5_hex(($o{password} // '') . $o{user});
				$self->send(msg('p', 'md5' . md5_hex($inner . $salt) . "\0"), %send);
			} elsif ($code == 10) {
				my @mechs = grep { length } split /\0/, substr($body, 4);
				return { %$r, error => { M => "no SCRAM-SHA-256 in [@mechs]" } }
				    unless grep { $_ eq 'SCRAM-SHA-256' } @mechs;
				$scram_nonce = encode_base64(join('', map { chr int rand 256 } 1 .. 18), '');
				$client_first_bare = "n=,r=$scram_nonce";
				my $first = "n,,$client_first_bare";
				$self->send(msg('p', "SCRAM-SHA-256\0" . pack('N', length $first) . $first), %send);
			} elsif ($code == 11) {
				my $server_first = substr($body, 4);
				my %a = map { /^(\w)=(.*)$/ ? ($1, $2) : () } split /,/, $server_first;
				return { %$r, error => { M => "bad server-first-message: $server_first" } }
				    unless $a{r} && index($a{r}, $scram_nonce) == 0 && $a{s} && $a{i};
				$salted = _pbkdf2_sha256($o{password} // '', decode_base64($a{s}), $a{i});
				my $client_key = hmac_sha256('Client Key', $salted);
				my $without_proof = "c=biws,r=$a{r}";
				$auth_message = "$client_first_bare,$server_first,$without_proof";
				my $sig = hmac_sha256($auth_message, sha256($client_key));
				my $proof = encode_base64($client_key ^ $sig, '');
				$self->send(msg('p', "$without_proof,p=$proof"), %send);
			} elsif ($code == 12) {
				my $final = substr($body, 4);
				my $want = encode_base64(hmac_sha256($auth_message, hmac_sha256('Server Key', $salted)), '');
				$r->{server_signature_ok} = $final eq "v=$want" ? 1 : 0;
				return { %$r, error => { M => "bad server signature: $final" } }
				    unless $r->{server_signature_ok};
			} else {
				return { %$r, error => { M => "unsupported auth request $code" } };
			}
		} elsif ($type eq 'E') {
			return { %$r, error => parse_error($body) };
		} elsif ($type eq 'S') {
			my ($k, $v) = split /\0/, $body;
			$r->{params}{$k} = $v // '';
		} elsif ($type eq 'K') {
			@$r{qw(backend_pid backend_key)} = unpack('NN', $body);
		} elsif ($type eq 'v') {
			my ($minor, $n) = unpack('NN', $body);
			my @opts = grep { length } split /\0/, substr($body, 8);
			$r->{negotiate} = { minor => $minor, count => $n, options => \@opts };
		} elsif ($type eq 'N') {
			push @{ $r->{notices} }, parse_error($body);
		} elsif ($type eq 'Z') {
			$r->{ok} = 1;
			$r->{status} = $body;
			$self->{backend_pid} = $r->{backend_pid};
			$self->{backend_key} = $r->{backend_key};
			return $r;
		} else {
			return { %$r, error => { M => "unexpected message '$type' during login" } };
		}
	}
}

# Read one query cycle's replies up to ReadyForQuery.
sub read_results
{
	my ($self, $timeout) = @_;
	my $r = { rows => [], columns => [], tags => [], errors => [], notices => [], types => [] };
	while (1) {
		my ($type, $body) = $self->read_msg($timeout);
		if (!defined $type) {
			$r->{lost} = $self->{timed_out} ? 'timed out' : 'connection closed';
			return $r;
		}
		push @{ $r->{types} }, $type;
		if ($type eq 'T') {
			my $n = unpack('n', $body);
			my $pos = 2;
			my @cols;
			for (1 .. $n) {
				my $end = index($body, "\0", $pos);
				push @cols, substr($body, $pos, $end - $pos);
				$pos = $end + 1 + 18;
			}
			$r->{columns} = \@cols;
		} elsif ($type eq 'D') {
			my $n = unpack('n', $body);
			my $pos = 2;
			my @vals;
			for (1 .. $n) {
				my $len = unpack('l>', substr($body, $pos, 4));
				$pos += 4;
				if ($len < 0) { push @vals, undef; next }
				push @vals, substr($body, $pos, $len);
				$pos += $len;
			}
			push @{ $r->{rows} }, \@vals;
		} elsif ($type eq 'C') {
			(my $tag = $body) =~ s/\0$//;
			push @{ $r->{tags} }, $tag;
		} elsif ($type eq 'E') {
			push @{ $r->{errors} }, parse_error($body);
		} elsif ($type eq 'N') {
			push @{ $r->{notices} }, parse_error($body);
		} elsif ($type eq 'Z') {
			$r->{status} = $body;
			return $r;
		}
	}
}

# Simple query; returns read_results(). Options: bytewise, delay, timeout.
sub query
{
	my ($self, $sql, %o) = @_;
	$self->send(msg('Q', "$sql\0"), bytewise => $o{bytewise}, delay => $o{delay})
	    or return { lost => "send failed: $self->{send_error}", rows => [], errors => [] };
	return $self->read_results($o{timeout});
}

# The first column of the first row of a query, or undef.
sub query_value
{
	my ($self, $sql, %o) = @_;
	my $r = $self->query($sql, %o);
	return undef if $r->{lost} || @{ $r->{errors} } || !@{ $r->{rows} };
	return $r->{rows}[0][0];
}

1;
