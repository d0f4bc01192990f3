#!/usr/bin/perl
# run-scratch.pl — what `make run` runs: a scratch PostgreSQL (role app,
# password app, database app) and sluice in front of it, in the foreground.
# Prints the DATABASE_URL to use; Ctrl-C (SIGINT) or SIGTERM stops both and
# removes the scratch directories.
#
#   SLUICE_BIN=./sluice perl test/lib/run-scratch.pl
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IO::Socket::INET;
use SluiceTest;

$| = 1;
my $stop;
$SIG{INT} = $SIG{TERM} = sub { $stop = shift };

sub port_is_free
{
	my ($port) = @_;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
				      Proto => 'tcp', Listen => 1, ReuseAddr => 1) or return 0;
	close $s;
	return 1;
}

my $bin = SluiceTest::Sluice::bin();
die "run-scratch: no executable at $bin (build it with make, or set SLUICE_BIN)\n" unless -x $bin;

print "starting a scratch PostgreSQL ...\n";
my $pg = SluiceTest::Pg->new(name => 'scratch-pg');
$pg->create_role('app', 'app');
$pg->create_db('app', 'app');

my $port = port_is_free(6432) ? 6432 : SluiceTest::free_port();
print "starting $bin on 127.0.0.1:$port ...\n";
my $sl = SluiceTest::Sluice->new(
	pg        => $pg,
	databases => { app => 'host=127.0.0.1 port=' . $pg->port . ' dbname=app' },
	users     => { app => 'app' },
	settings  => { auth_type => 'scram-sha-256', listen_port => $port },
	console   => 1,
);

my $url = "postgresql://app:app\@127.0.0.1:$port/app";
print <<"EOT";

  sluice is running (pid ${\ $sl->pid}), in front of PostgreSQL on 127.0.0.1:${\ $pg->port}

  DATABASE_URL=$url

  try:   psql "$url" -c 'SELECT version()'
  unix:  psql -h ${\ $sl->sockdir} -p $port -U app app      (password: app)
  config ${\ $sl->config_path}

  Ctrl-C stops sluice and PostgreSQL and removes the scratch directories.

EOT

while (!$stop) {
	if (!$sl->alive) {
		print STDERR "run-scratch: sluice exited on its own (status $sl->{crashed}); keeping its directory\n";
		exit 1;
	}
	select(undef, undef, undef, 0.2);
}
print "\nSIG$stop: stopping sluice and PostgreSQL ...\n";
my $st = $sl->stop;
$pg->stop;
print "stopped (sluice exit status ", SluiceTest::exit_code($st), ").\n";
exit 0;
