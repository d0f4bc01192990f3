package SluiceTest::TLS;

# Throwaway certificates for the TLS tests, made with the `openssl` command
# line tool in a private temp dir: a CA, server certificates (CN=localhost,
# SAN DNS:localhost and IP:127.0.0.1 by default) and client certificates
# (CN=<user>) signed by it. Keys are EC P-256 (fast to make), mode 0600
# (as root: 0640 root:postgres, so a pooler run as postgres can read them).
#
#   my $ca  = SluiceTest::TLS->new_ca('ca1');
#   my $srv = $ca->server_cert;                  # { cert => path, key => path, cn, ca }
#   my $cli = $ca->client_cert('alice');
#   my $x   = $ca->issue('odd', cn => 'example.org', san => 'DNS:example.org', usage => 'server');
#   $ca->cert / key / dir / name
#
#   # libpq environment for psql (SluiceTest::run_psql / ->psql env => ...)
#   my %env = SluiceTest::TLS::libpq_env(sslmode => 'verify-ca', rootcert => $ca,
#                                        cert => $cli, max_protocol => 'TLSv1.2');
#
#   SluiceTest::TLS::available()                 # the openssl CLI runs
#   SluiceTest::TLS::copy_pair($leaf, $dir, 'server', owner => 'postgres')
#
# PostgreSQL with TLS: SluiceTest::Pg->new(ssl => $ca->server_cert) copies
# the pair into its directory (owned by postgres, key 0600) and turns ssl on.

use strict;
use warnings;
use Carp;
use File::Copy ();
use SluiceTest qw(run_cmd new_tempdir is_root spit);

sub openssl_bin { $ENV{OPENSSL} // 'openssl' }

sub available
{
	my (undef, undef, $rc) = run_cmd([ openssl_bin(), 'version' ], timeout => 10);
	return $rc == 0;
}

sub _openssl
{
	my ($what, @args) = @_;
	my ($out, $err, $rc) = run_cmd([ openssl_bin(), @args ], timeout => 60);
	croak "openssl $what failed ($rc): $err" if $rc != 0;
	return $out;
}

my $serial = int(rand(1 << 30));

sub new_ca
{
	my ($class, $name, %o) = @_;
	$name //= 'ca';
	my $dir = $o{dir} // new_tempdir("tls-$name");
	my $self = bless { name => $name, dir => $dir, cert => "$dir/$name.crt", key => "$dir/$name.key" },
	    $class;
	_openssl("req (CA $name)", 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		 '-nodes', '-keyout', $self->{key}, '-out', $self->{cert}, '-days', $o{days} // 2,
		 '-subj', "/O=sluice tests/CN=sluice test CA $name",
		 '-addext', 'basicConstraints=critical,CA:TRUE',
		 '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	_key_mode($self->{key});
	chmod 0644, $self->{cert};
	return $self;
}

# Keys are 0600; as root, 0640 root:postgres instead, so that a pooler run
# as postgres (PgBouncer, when validating the suite) can read them. libpq
# accepts both for a client key.
sub _key_mode
{
	my ($key) = @_;
	if (is_root() && getpwnam('postgres')) {
		my (undef, $gid) = SluiceTest::postgres_ids();
		chown 0, $gid, $key;
		chmod 0640, $key;
	} else {
		chmod 0600, $key;
	}
}

sub name { $_[0]{name} }
sub dir  { $_[0]{dir} }
sub cert { $_[0]{cert} }
sub key  { $_[0]{key} }

# A key and a certificate signed by this CA. Options: cn (default $file),
# san (subjectAltName value, none by default), usage ('server', 'client' or
# 'both'; default 'server'), days. Returns { cert, key, cn, ca => $self }.
sub issue
{
	my ($self, $file, %o) = @_;
	my $cn = $o{cn} // $file;
	my $usage = $o{usage} // 'server';
	my $base = "$self->{dir}/$file";
	my %eku = (server => 'serverAuth', client => 'clientAuth', both => 'serverAuth,clientAuth');
	croak "usage must be server, client or both" unless $eku{$usage};
	my $ext = "basicConstraints = critical,CA:FALSE\n"
	    . "keyUsage = critical,digitalSignature,keyEncipherment\n"
	    . "extendedKeyUsage = $eku{$usage}\n"
	    . (defined $o{san} ? "subjectAltName = $o{san}\n" : '');
	spit("$base.ext", $ext);
	_openssl("req ($file)", 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		 '-nodes', '-keyout', "$base.key", '-out', "$base.csr", '-subj', "/O=sluice tests/CN=$cn");
	_openssl("x509 ($file)", 'x509', '-req', '-in', "$base.csr", '-CA', $self->{cert},
		 '-CAkey', $self->{key}, '-set_serial', ++$serial, '-days', $o{days} // 2,
		 '-extfile', "$base.ext", '-out', "$base.crt");
	_key_mode("$base.key");
	chmod 0644, "$base.crt";
	unlink "$base.csr", "$base.ext";
	return { cert => "$base.crt", key => "$base.key", cn => $cn, ca => $self };
}

# The usual server certificate: CN=localhost, SAN DNS:localhost, IP:127.0.0.1.
sub server_cert
{
	my ($self, %o) = @_;
	return $self->{server} //= $self->issue($o{file} // 'localhost', cn => 'localhost',
						 san => 'DNS:localhost,IP:127.0.0.1', usage => 'server');
}

# A client certificate with CN=$user.
sub client_cert
{
	my ($self, $user, %o) = @_;
	return $self->issue($o{file} // "client-$user", cn => $user, usage => 'client');
}

# Copy a pair into $dir as $base.crt / $base.key (the key as issue makes
# it). With owner => 'postgres' (when we are root) both files are owned by
# postgres and the key is 0600, as PostgreSQL requires. Returns { cert, key }.
sub copy_pair
{
	my ($pair, $dir, $base, %o) = @_;
	my %to = (cert => "$dir/$base.crt", key => "$dir/$base.key");
	for my $k (qw(cert key)) {
		# copy to a temp name and rename, so a reader never sees half a file
		File::Copy::copy($pair->{$k}, "$to{$k}.tmp") or croak "copy $pair->{$k}: $!";
		if (($o{owner} // '') eq 'postgres' && is_root()) {
			my ($uid, $gid) = SluiceTest::postgres_ids();
			chown $uid, $gid, "$to{$k}.tmp";
			chmod($k eq 'key' ? 0600 : 0644, "$to{$k}.tmp");
		} elsif ($k eq 'key') {
			_key_mode("$to{$k}.tmp");
		} else {
			chmod 0644, "$to{$k}.tmp";
		}
		rename "$to{$k}.tmp", $to{$k} or croak "rename to $to{$k}: $!";
	}
	return \%to;
}

# libpq environment variables for a TLS connection. Options: sslmode,
# rootcert (a CA object or a path), cert (a pair from issue, or undef for no
# client certificate), min_protocol, max_protocol, hostaddr (connect to
# this address while host names the server, for verify-full).
# A client certificate is never picked up from ~/.postgresql: when none is
# given, sslcert and sslkey point at a path that does not exist.
sub libpq_env
{
	my (%o) = @_;
	my %env;
	$env{PGSSLMODE} = $o{sslmode} if defined $o{sslmode};
	if (defined $o{rootcert}) {
		$env{PGSSLROOTCERT} = ref $o{rootcert} ? $o{rootcert}->cert : $o{rootcert};
	} else {
		$env{PGSSLROOTCERT} = '/nonexistent/sluice-test-root.crt';
	}
	if ($o{cert}) {
		$env{PGSSLCERT} = $o{cert}{cert};
		$env{PGSSLKEY} = $o{cert}{key};
	} else {
		$env{PGSSLCERT} = '/nonexistent/sluice-test-client.crt';
		$env{PGSSLKEY} = '/nonexistent/sluice-test-client.key';
	}
	$env{PGSSLMINPROTOCOLVERSION} = $o{min_protocol} if defined $o{min_protocol};
	$env{PGSSLMAXPROTOCOLVERSION} = $o{max_protocol} if defined $o{max_protocol};
	$env{PGHOSTADDR} = $o{hostaddr} if defined $o{hostaddr};
	return %env;
}

1;
