# /metrics and /health on metrics_listen: Prometheus text whose numbers
# match what the test did (transactions, queries, bytes, clients, the wait
# histogram), a health check that turns 503 once a database cannot be
# reached, 404 elsewhere, and clear start-up errors for a bad value or a
# port in use.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use Test::More;
use SluiceTest qw(free_port run_cmd wait_for);
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $mport = free_port();
my $closed = free_port();    # nothing listens there
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => {
		app => $pg->connstr('app', user => 'app', password => 'app_pw'),
		dead => "host=127.0.0.1 port=$closed dbname=app user=app password=app_pw",
	},
	users => { app => 'app_pw' },
	default_db => 'app',
	settings => { auth_type => 'plain', pool_mode => 'transaction', default_pool_size => 1,
		      query_wait_timeout => 2, metrics_listen => "127.0.0.1:$mport" },
);

my $http = HTTP::Tiny->new(timeout => 10);
sub get { return $http->get("http://127.0.0.1:$mport$_[0]") }

# /metrics as { 'name{labels}' => value }, plus { name => type } and the
# names that have a HELP line.
sub scrape
{
	my $r = get('/metrics');
	die "GET /metrics: $r->{status} $r->{content}\n" unless $r->{status} == 200;
	my (%v, %type, %help);
	for my $line (split /\n/, $r->{content}) {
		if ($line =~ /^# TYPE (\S+) (\S+)$/) { $type{$1} = $2; next }
		if ($line =~ /^# HELP (\S+) \S/) { $help{$1} = 1; next }
		next if $line =~ /^#/ || $line !~ /\S/;
		$line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/ or die "bad line: $line\n";
		$v{$1} = $2;
	}
	return { v => \%v, type => \%type, help => \%help, text => $r->{content},
		 ctype => $r->{headers}{'content-type'} };
}

my $q = sub { SluiceTest::Proto::msg('Q', "$_[0]\0") };

# Send raw bytes, read up to one ReadyForQuery; returns the bytes read.
sub exchange
{
	my ($c, $bytes) = @_;
	$c->send($bytes) or die "send failed\n";
	my $got = 0;
	while (1) {
		my ($type, $body) = $c->read_msg;
		die "connection lost\n" unless defined $type;
		$got += 5 + length $body;
		return $got if $type eq 'Z';
	}
}

# ---- health while nothing failed; 404 elsewhere ----

my $h = get('/health');
is($h->{status}, 200, '/health: 200 while every database is reachable or not tried yet');
like($h->{content}, qr/^ok/, '/health: says ok');
for my $path ('/', '/nope', '/metrics/x') {
	is(get($path)->{status}, 404, "$path: 404");
}

# ---- counters ----

my $m0 = scrape();
like($m0->{ctype}, qr{^text/plain; version=0\.0\.4}, '/metrics: the text exposition format 0.0.4');
my $db = '{database="app"}';
my ($sent, $got) = (0, 0);
{
	my $c = $sl->proto(user => 'app', password => 'app_pw');
	for (1 .. 10) {
		my $b = $q->('SELECT 1');
		$got += exchange($c, $b);
		$sent += length $b;
	}
	$c->terminate;
}
my $m1 = scrape();
my $d = sub { my ($name) = @_; ($m1->{v}{$name} // 'none') - ($m0->{v}{$name} // 0) };
is($d->("sluice_transactions_total$db"), 10, 'sluice_transactions_total: +10 transactions');
is($d->("sluice_queries_total$db"), 10, 'sluice_queries_total: +10 queries');
is($d->("sluice_received_bytes_total$db"), $sent, "sluice_received_bytes_total: +$sent bytes from the client");
is($d->("sluice_sent_bytes_total$db"), $got, "sluice_sent_bytes_total: +$got bytes to the client");
ok($d->("sluice_query_seconds_total$db") > 0, 'sluice_query_seconds_total grew');
ok($d->("sluice_transaction_seconds_total$db") >= $d->("sluice_query_seconds_total$db"),
   'sluice_transaction_seconds_total grew at least as much');
is($d->("sluice_client_wait_seconds_count$db"), 10,
   'sluice_client_wait_seconds_count: +10 (each transaction got a server once)');

# ---- pools and clients, with a client waiting ----

my $holder = $sl->proto(user => 'app', password => 'app_pw');
my $waiter = $sl->proto(user => 'app', password => 'app_pw');
my $pool = '{database="app",user="app",state=';
my $m;
ok(wait_for(sub { $m = scrape(); $m->{v}{"sluice_client_connections"} == 2 }, timeout => 10),
   'sluice_client_connections: the 2 open clients');
is($m->{v}{"sluice_pool_client_connections$pool\"active\"}"}, 2, 'pool: 2 active clients');
is($holder->query('BEGIN')->{status}, 'T', 'the holder takes the only server');
$waiter->send($q->('SELECT 1'));
ok(wait_for(sub { $m = scrape(); $m->{v}{"sluice_pool_client_connections$pool\"waiting\"}"} == 1 },
	    timeout => 10), 'pool: the other client shows as waiting');
is($m->{v}{"sluice_pool_client_connections$pool\"active\"}"}, 1, 'pool: 1 active client');
is($m->{v}{"sluice_pool_server_connections$pool\"active\"}"}, 1, 'pool: 1 active server');
is($m->{v}{"sluice_pool_server_connections$pool\"idle\"}"}, 0, 'pool: no idle server');
ok($m->{v}{"sluice_server_connections"} >= 1, 'sluice_server_connections: at least the one');
ok($m->{v}{'sluice_pool_max_wait_seconds{database="app",user="app"}'} > 0, 'pool: max wait > 0');
is($holder->query('SELECT pg_sleep(0.1)')->{status}, 'T', 'the holder works 0.1 s more');
is($holder->query('COMMIT')->{status}, 'I', '... and commits');
is($waiter->read_results->{rows}[0][0], 1, 'the waiter gets its answer');
$holder->terminate;
$waiter->terminate;
my $m2 = scrape();
my $hist = 'sluice_client_wait_seconds';
is($m2->{v}{"${hist}_count$db"} - $m1->{v}{"${hist}_count$db"}, 2,
   'wait histogram: +2 observations (the holder, the waiter)');
ok($m2->{v}{"${hist}_sum$db"} - $m1->{v}{"${hist}_sum$db"} >= 0.1, 'wait histogram: the sum grew by the wait');
my @buckets = map { [ $_ =~ /le="([^"]+)"/, $m2->{v}{$_} ] }
	      grep { /^${hist}_bucket\{database="app",/ } keys %{ $m2->{v} };
@buckets = sort { ($a->[0] eq '+Inf' ? 9e9 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 9e9 : $b->[0]) } @buckets;
ok(@buckets > 5, 'wait histogram: ' . scalar(@buckets) . ' buckets');
is($buckets[-1][0], '+Inf', 'wait histogram: the last bucket is +Inf');
is($buckets[-1][1], $m2->{v}{"${hist}_count$db"}, 'wait histogram: +Inf bucket = count');
ok(!grep({ $buckets[$_][1] < $buckets[$_ - 1][1] } 1 .. $#buckets), 'wait histogram: buckets are cumulative');
my ($under) = grep { $_->[0] ne '+Inf' && $_->[0] < 0.1 } reverse @buckets;
ok($under && $under->[1] < $buckets[-1][1], 'wait histogram: the 0.1 s wait is above the small buckets');
ok($m2->{v}{sluice_resident_memory_bytes} > 1_000_000, 'sluice_resident_memory_bytes: a plausible size');

# ---- naming conventions ----

my %families = map { (my $f = $_) =~ s/\{.*//; $f =~ s/_(bucket|sum|count)$// if $f =~ /^\Q$hist\E_/; $f => 1 }
	       keys %{ $m2->{v} };
my @bad;
for my $f (sort keys %families) {
	push @bad, "$f: no sluice_ prefix" unless $f =~ /^sluice_/;
	push @bad, "$f: no TYPE" unless $m2->{type}{$f};
	push @bad, "$f: no HELP" unless $m2->{help}{$f};
	my $t = $m2->{type}{$f} // '';
	push @bad, "$f: a counter without _total" if $t eq 'counter' && $f !~ /_total$/;
	push @bad, "$f: _total on a $t" if $t ne 'counter' && $f =~ /_total$/;
}
is_deeply(\@bad, [], 'every family: sluice_ prefix, HELP and TYPE, _total exactly on counters');

# ---- a database that cannot be reached ----

$sl->expect_log(qr/ dead\/app\S+ pooler error: could not connect to server: Connection refused \(no server for \d+ s\) \(sqlstate=08006\)/);
my ($o, $e, $rc) = $sl->psql('SELECT 1', user => 'app', password => 'app_pw', db => 'dead', timeout => 20);
isnt($rc, 0, 'a client of the database on a closed port fails');
my $r;
ok(wait_for(sub { $r = get('/health'); $r->{status} == 503 }, timeout => 10),
   '/health: 503 once a database could not be reached');
like($r->{content}, qr/database "dead" unreachable/, '/health: names the database');
unlike($r->{content}, qr/"app"/, '/health: not the reachable one');
is(scrape()->{v}{"sluice_transactions_total$db"}, $m2->{v}{"sluice_transactions_total$db"},
   '/metrics still answers');

# ---- start-up errors ----

for my $case ([ 'nonsense', qr/metrics_listen: "nonsense" is not host:port/, 'a malformed value' ],
	      [ '127.0.0.1:0', qr/metrics_listen: "127\.0\.0\.1:0": the port must be/, 'port 0' ],
	      [ "127.0.0.1:$mport", qr/metrics_listen: cannot listen on 127\.0\.0\.1:$mport: Address already in use/,
		'a port in use' ]) {
	my ($value, $want, $what) = @$case;
	my $bad = SluiceTest::Sluice->new(pg => $pg, databases => { app => $pg->connstr('app') },
					  users => { app => 'app_pw' }, start => 0,
					  settings => { auth_type => 'plain', metrics_listen => $value });
	$bad->expect_log(qr/ERROR .*$want/);
	my ($out, $err, $code) = run_cmd([ $bad->{bin}, $bad->config_path ], timeout => 20);
	is($code, 1, "metrics_listen = $value ($what): sluice refuses to start");
	like($bad->log_contents . $err, $want, "... saying why");
}

done_testing();
