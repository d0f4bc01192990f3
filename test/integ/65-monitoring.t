# The monitoring ops already run (issue 20 item 5): sluice's own /metrics
# passes `promtool check metrics` (Debian's prometheus package) with no
# warning and keeps Prometheus's naming rules; Debian's
# prometheus-pgbouncer-exporter pointed at sluice's console collects every
# metric it defines, with no error in its log, and at least what it
# collects from a PgBouncer 1.18 over the same PostgreSQL.
#
# Debian 12's exporter (1.7, written for PgBouncer 1.7) reads SHOW STATS's
# total_requests, a column PgBouncer 1.8 renamed: against PgBouncer 1.18,
# and against sluice by default (which answers as 1.18 does), it stops at
# start-up with KeyError: 'total_requests'. stats_legacy_columns = 1 makes
# sluice add 1.7's names (doc/admin.md), and the exporter then works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Test::More;
use SluiceTest qw(free_port run_cmd spawn wait_for new_tempdir slurp spit);

my $PROMTOOL = '/usr/bin/promtool';
my $EXPORTER = '/usr/bin/prometheus-pgbouncer-exporter';
my $PGBOUNCER = '/usr/sbin/pgbouncer';
plan skip_all => "neither $PROMTOOL nor $EXPORTER: make deps installs them (Debian's "
	. "prometheus and prometheus-pgbouncer-exporter)" unless -x $PROMTOOL || -x $EXPORTER;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $mport = free_port();
my %common = (
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw', stats => 'stats_pw' },
	default_db => 'app',
	default_user => 'app',
	settings => { auth_type => 'plain', admin_users => 'admin', stats_users => 'stats',
		      pool_mode => 'transaction', default_pool_size => 1, stats_period => 1 },
);
my $sl = SluiceTest::Sluice->new(%common,
	settings => { %{ $common{settings} }, metrics_listen => "127.0.0.1:$mport" });
my $dir = new_tempdir('monitoring');
my $http = HTTP::Tiny->new(timeout => 10);

# Traffic that gives the counters and the wait histogram values, makes a
# client wait for the only server, and leaves session state in transaction
# pooling (the gate is used below, on sluice only).
sub traffic
{
	my ($node) = @_;
	$node->safe_psql('SELECT 1', user => 'app', password => 'app_pw') for 1 .. 5;
	my $holder = $node->proto(user => 'app', password => 'app_pw');
	my $waiter = $node->proto(user => 'app', password => 'app_pw');
	$holder->query('BEGIN');
	$waiter->send(SluiceTest::Proto::msg('Q', "SELECT 2\0"));
	select(undef, undef, undef, 0.2);
	$holder->query('COMMIT');
	$waiter->read_results(10);
	$holder->query('SET search_path = public');
	$_->terminate for $holder, $waiter;
}

# ---- sluice's own /metrics: promtool and the naming rules ----

SKIP: {
	skip "no $PROMTOOL (Debian's prometheus package; make deps installs it)", 4 unless -x $PROMTOOL;
	traffic($sl);
	$sl->expect_log(qr/WARNING C-\d+ app\/app@\S+ session state in transaction pooling/);
	my $adm = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
	$adm->query('PAUSE app');
	$adm->query('RESUME app');
	$adm->terminate;

	my $r = $http->get("http://127.0.0.1:$mport/metrics");
	is($r->{status}, 200, 'GET /metrics after traffic');
	my $text = $r->{content} // '';
	spit("$dir/sluice.metrics", $text);
	my ($out, $err, $rc) = run_cmd([ $PROMTOOL, 'check', 'metrics' ], stdin => $text, timeout => 30);
	ok($rc == 0 && $out eq '' && $err eq '', 'promtool check metrics: exit 0, nothing to say')
		or diag "promtool (rc $rc):\n$out$err";

	# What promtool does not check: every family has HELP and TYPE, its
	# samples follow them, names are in base units (seconds, bytes), and a
	# family that does not say its unit counts things.
	my (%type, %help, @bad);
	for my $line (split /\n/, $text) {
		if ($line =~ /^# HELP (\S+) \S/) { $help{$1} = 1; next }
		if ($line =~ /^# TYPE (\S+) (\S+)$/) { $type{$1} = $2; next }
		my ($name) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)/ or next;
		my $fam = $name;
		$fam =~ s/_(bucket|sum|count)$// if !$type{$name} && $type{ $name =~ s/_(bucket|sum|count)$//r };
		push @bad, "$name: no TYPE before it" unless $type{$fam};
		push @bad, "$name: no HELP" unless $help{$fam};
	}
	for my $fam (sort keys %type) {
		push @bad, "$fam: not sluice_ and snake case" unless $fam =~ /^sluice_[a-z][a-z0-9_]*$/;
		push @bad, "$fam: a counter without _total" if $type{$fam} eq 'counter' && $fam !~ /_total$/;
		push @bad, "$fam: _total on a $type{$fam}" if $type{$fam} ne 'counter' && $fam =~ /_total$/;
		push @bad, "$fam: not a base unit"
			if $fam =~ /(milli|micro|nano)seconds|(kilo|mega|giga)bytes|_(ms|us|usec|msec|kb|mb|kib|mib|minutes?|hours?|days?|percent)(_|$)/;
	}
	ok(!@bad, 'every family: HELP, TYPE, snake case, _total exactly on counters, base units')
		or diag join("\n", @bad);
	my @want = ('sluice_client_wait_seconds_bucket{', 'sluice_pool_session_state_total{',
		    'sluice_gate_state{', 'sluice_transactions_total{');
	is_deeply([ grep { index($text, "\n$_") < 0 } @want ], [],
		  'the scrape had samples of the histogram, the session state counter and the gate');
}

# ---- Debian's prometheus-pgbouncer-exporter: PgBouncer 1.18 and sluice ----

# Run the exporter against the console at port, scrape it twice. Returns
# { names => { metric => 'label,names' }, log => its stderr, up => scraped }.
my @exporters;
sub export_from
{
	my ($tag, $port) = @_;
	my $eport = free_port();
	my $log = "$dir/exporter-$tag.log";
	my $pid = spawn([ $EXPORTER, '--host', '127.0.0.1', '--port', $eport, '--pgbouncer-host', '127.0.0.1',
			  '--pgbouncer-port', $port, '--pgbouncer-user', 'stats' ],
			env => { PGPASSWORD => 'stats_pw' }, stdout => $log, stderr => $log);
	push @exporters, $pid;
	my ($up, $text, $exited) = (0, '', 0);
	wait_for(sub {
		if (waitpid($pid, WNOHANG) == $pid) { $exited = 1; return 1 }
		my $r = $http->get("http://127.0.0.1:$eport/metrics");
		return 0 unless $r->{status} == 200;
		$r = $http->get("http://127.0.0.1:$eport/metrics");    # a second collection
		($up, $text) = ($r->{status} == 200, $r->{content});
		return 1;
	}, timeout => 30, interval => 0.2);
	if (!$exited) {
		kill 'TERM', $pid;
		waitpid($pid, 0);
	}
	@exporters = grep { $_ != $pid } @exporters;
	spit("$dir/exporter-$tag.metrics", $text);
	my %names;
	for my $line (split /\n/, $text) {
		my ($name, $labels) = $line =~ /^(pgbouncer_[a-z0-9_]+)(?:\{([^}]*)\})? / or next;
		$names{$name} = join(',', sort map { /^(\w+)=/ ? $1 : () } split /,(?=\w+=")/, $labels // '');
	}
	return { names => \%names, log => slurp($log), up => $up };
}
END { kill 'TERM', @exporters if @exporters }

# The metrics (and their labels) the exporter defines, from its own code.
sub exporter_defines
{
	my $py = <<'PY';
import inspect
from prometheus_pgbouncer_exporter import collectors as c
for _, cls in inspect.getmembers(c, inspect.isclass):
    for key, (name, _) in sorted(getattr(cls, 'metrics', {}).items()):
        print("pgbouncer_%s %s" % (name, ",".join(sorted(getattr(cls, 'labels', [])))))
PY
	my ($out, $err, $rc) = run_cmd([ '/usr/bin/python3', '-c', $py ], timeout => 30);
	die "reading the exporter's collectors: $err" if $rc;
	return { map { my ($n, $l) = split / /; ($n => $l // '') } split /\n/, $out };
}

# A log line of the exporter that is not its start-up INFO lines or the
# HTTP server's access lines.
sub log_problems
{
	my ($log) = @_;
	return grep { /error|warn|traceback|exception|critical/i } split /\n/, $log;
}

SKIP: {
	skip "no $EXPORTER (Debian's prometheus-pgbouncer-exporter; make deps installs it)", 8
		unless -x $EXPORTER;
	skip "no $PGBOUNCER to compare with", 8 unless -x $PGBOUNCER;
	my $pgb = do { local $ENV{SLUICE_BIN} = $PGBOUNCER; SluiceTest::Sluice->new(%common) };
	traffic($_) for $pgb, $sl;
	my $want = exporter_defines();
	ok(scalar(keys %$want) >= 16, 'the exporter defines its metrics (' . scalar(keys %$want) . ')');

	my $from_pgb = export_from('pgbouncer', $pgb->port);
	diag(sprintf "from PgBouncer 1.18 it collects %d metrics%s", scalar(keys %{ $from_pgb->{names} }),
	     $from_pgb->{up} ? '' : ' (' . (join(' ', log_problems($from_pgb->{log}))
					    || 'it stopped') . ')');
	my $default = export_from('sluice-default', $sl->port);
	is(!!$default->{up}, !!$from_pgb->{up},
	   'sluice by default: as PgBouncer 1.18 for it (SHOW STATS has 1.18\'s columns only)');

	$sl->{settings}{stats_legacy_columns} = 1;
	$sl->reload;
	ok(wait_for(sub { $sl->psql('SHOW CONFIG', user => 'admin', password => 'admin_pw', db => 'pgbouncer')
			  =~ /^stats_legacy_columns\|1\|/m }, timeout => 10),
	   'RELOAD turns stats_legacy_columns on');
	my $adm = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
	my $st = $adm->query('SHOW STATS');
	$adm->terminate;
	my @cols = @{ $st->{columns} };
	my %row;
	@row{@cols} = @{ $st->{rows}[0] // [] };
	is(join(',', @cols[15 .. $#cols]), 'total_requests,avg_req,avg_query',
	   "SHOW STATS: PgBouncer 1.7's three names after 1.18's 15 columns");
	ok($row{total_query_count} > 0 && $row{total_requests} eq $row{total_query_count}
	   && $row{avg_req} eq $row{avg_query_count} && $row{avg_query} eq $row{avg_query_time},
	   '... holding total_query_count, avg_query_count and avg_query_time') or diag explain \%row;
	my $from_sl = export_from('sluice', $sl->port);
	ok($from_sl->{up}, 'with stats_legacy_columns = 1 the exporter runs and answers scrapes');
	is(join("\n", log_problems($from_sl->{log})), '', '... with no error or warning in its log');
	my @missing;
	for my $ref ([ 'the exporter defines', $want ], [ 'it collects from PgBouncer 1.18', $from_pgb->{names} ]) {
		for my $n (sort keys %{ $ref->[1] }) {
			my $got = $from_sl->{names}{$n};
			push @missing, "$n {$ref->[1]{$n}} ($ref->[0]): " . (defined $got ? "labels {$got}" : 'absent')
				unless defined $got && $got eq $ref->[1]{$n};
		}
	}
	ok(!@missing, 'from sluice it collects every metric it defines and every one it collects from '
	   . 'PgBouncer, with the same label names') or diag join("\n", @missing);
}

done_testing();
