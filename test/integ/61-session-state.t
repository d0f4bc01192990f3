# Issue 17, part 2: in transaction and statement pooling, session state a
# client leaves on a shared server never reaches the next client silently.
# transaction_session_state (per user here, [users]) decides: refuse (the
# statement never reaches PostgreSQL, 0A000 naming the kind), pin (it
# runs, the client keeps its server until the state is cleared or it
# leaves; the server is then discarded or closed), warn (it runs, with a
# NOTICE, a log line and a count). For each kind and each mode: two
# clients over a pool of one server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use HTTP::Tiny;
use SluiceTest qw(free_port wait_for);
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
my @users;
for my $policy (qw(refuse pin warn)) {
	for my $mode (qw(transaction statement)) {
		push @users, { name => "${policy}_$mode", policy => $policy, mode => $mode };
	}
}
$pg->create_role($_->{name}, 'pw', superuser => 1) for @users;   # LOAD needs it
$pg->create_role('capped', 'pw', superuser => 1);
$pg->create_role('plain', 'pw');
$pg->create_db('app', 'plain');
$pg->safe_psql('app', 'CREATE SCHEMA tenant_a; GRANT ALL ON SCHEMA tenant_a TO PUBLIC');

my $users_ini = "[users]\n" . join('', map { "$_->{name} = pool_mode=$_->{mode} "
	. "transaction_session_state=$_->{policy}\n" } @users)
    . "capped = pool_mode=transaction transaction_session_state=pin\n";
my $mport = free_port();
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app'), app2 => $pg->connstr('app') . ' pool_size=2' },
	users => { (map { $_->{name} => 'pw' } @users), capped => 'pw', plain => 'pw' },
	default_user => 'plain',
	settings => { default_pool_size => 1, query_wait_timeout => 10, max_pinned_servers => 1,
		      admin_users => 'plain', pool_mode => 'transaction',
		      metrics_listen => "127.0.0.1:$mport" },
	extra_config => $users_ini,
);
$sl->expect_log(qr/WARNING C-\d+ app\/warn_\w+@\S+ session state in (transaction|statement) pooling/);

# Each kind: the statement, a query that reads the state on the same
# backend, and what it reads there without the state and with it.
my @kinds = (
	[ 'set', 'SET search_path = tenant_a, public', 'SHOW search_path', '"$user", public', 'tenant_a, public' ],
	[ 'set_config', q{SELECT set_config('search_path', 'tenant_a, public', false)}, 'SHOW search_path',
	  '"$user", public', 'tenant_a, public' ],
	[ 'advisory_lock', 'SELECT pg_advisory_lock(4242)',
	  q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()}, '0', '1' ],
	[ 'listen', 'LISTEN chan_a', 'SELECT count(*) FROM pg_listening_channels()', '0', '1' ],
	[ 'temp_table', 'CREATE TEMP TABLE tt_a (x int)',
	  q{SELECT count(*) FROM pg_class WHERE relname = 'tt_a' AND pg_table_is_visible(oid)}, '0', '1' ],
	[ 'cursor_with_hold', 'DECLARE cur_a CURSOR WITH HOLD FOR SELECT 1', 'SELECT count(*) FROM pg_cursors',
	  '0', '1' ],
	[ 'sql_prepare', 'PREPARE stmt_a AS SELECT 1',
	  q{SELECT count(*) FROM pg_prepared_statements WHERE name = 'stmt_a'}, '0', '1' ],
	[ 'load', q{LOAD 'auto_explain'},
	  q{SELECT coalesce(current_setting('auto_explain.log_min_duration', true), 'none')}, 'none', '-1' ],
);

sub client { my ($user) = @_; return $sl->proto(user => $user, password => 'pw', db => 'app') }

sub state_leaks
{
	my $console = $sl->proto(user => 'plain', password => 'pw', db => 'pgbouncer');
	my $r = $console->query('SHOW STATE_LEAKS');
	$console->terminate;
	my %n;
	for my $row (@{ $r->{rows} }) {
		my ($db, $user, $policy, $kind, $warned, $refused, $pinned, $sv_pinned) = @$row;
		$n{"$user/$kind"} = { policy => $policy, warned => $warned, refused => $refused,
				      pinned => $pinned, sv_pinned => $sv_pinned };
	}
	return \%n;
}

for my $u (grep { $_->{policy} eq 'refuse' } @users) {
	for my $k (@kinds) {
		my ($kind, $sql, $check, $clean) = @$k;
		my $what = "refuse, $u->{mode} pooling, $kind";
		my $a = client($u->{name});
		my $r = $a->query($sql);
		my $e = $r->{errors}[0] // {};
		is($e->{C}, '0A000', "$what: the statement is refused with 0A000") or diag(explain($r));
		like($e->{M} // '', qr/^sluice: \Q$kind\E refused in $u->{mode} pooling/, "$what: the message names the kind");
		ok(length($e->{H} // ''), "$what: a hint names the safe form ($e->{H})");
		is($a->query_value('SELECT 1'), '1', "$what: the client goes on");
		is($a->query_value($check), $clean, "$what: the state is not there for the client itself");
		$a->terminate;
		my $b = client($u->{name});
		is($b->query_value($check), $clean, "$what: the next client on the server does not see it");
		$b->terminate;
	}
}

# refuse inside a transaction block: the transaction fails as PostgreSQL's
# own error would leave it; in the extended protocol the same.
{
	my $a = client('refuse_transaction');
	$a->query('BEGIN');
	my $r = $a->query('SET search_path = tenant_a');
	is_deeply([ $r->{errors}[0]{C}, $r->{status} ], [ '0A000', 'E' ],
		  'refuse in a transaction block: 0A000, and the transaction is failed (E)');
	$r = $a->query('SELECT 1');
	is($r->{errors}[0]{C}, '25P02', '... the next statement gets 25P02, as on PostgreSQL');
	$r = $a->query('COMMIT');
	is_deeply([ $r->{tags}[0], $r->{status} ], [ 'ROLLBACK', 'I' ], '... and COMMIT rolls back');

	my $msg = \&SluiceTest::Proto::msg;
	$a->send($msg->('P', "named\0SET search_path = tenant_a\0" . pack('n', 0))
		 . $msg->('B', "\0named\0" . pack('nnn', 0, 0, 0)) . $msg->('E', "\0" . pack('N', 0))
		 . $msg->('P', "\0SELECT \$1::text\0" . pack('nN', 1, 0))
		 . $msg->('S'));
	$r = $a->read_results(10);
	is($r->{errors}[0]{C}, '0A000', 'refuse, extended protocol: a named Parse of SET fails at its Execute with 0A000')
	    or diag(explain($r));
	$a->send($msg->('P', "\0SELECT set_config('search_path', \$1, false)\0" . pack('nN', 1, 0))
		 . $msg->('B', "\0\0" . pack('nnNa*n', 0, 1, 8, 'tenant_a', 0)) . $msg->('E', "\0" . pack('N', 0))
		 . $msg->('S'));
	$r = $a->read_results(10);
	is($r->{errors}[0]{C}, '0A000', 'refuse, extended protocol: set_config with a parameter, 0A000')
	    or diag(explain($r));
	is($a->query_value('SHOW search_path'), '"$user", public', '... and search_path is untouched');
	$a->terminate;
}

for my $u (grep { $_->{policy} eq 'pin' } @users) {
	for my $k (@kinds) {
		my ($kind, $sql, $check, $clean, $leaked) = @$k;
		my $what = "pin, $u->{mode} pooling, $kind";
		my $a = client($u->{name});
		my $r = $a->query($sql);
		ok(!@{ $r->{errors} }, "$what: the statement runs") or diag(explain($r->{errors}));
		is($a->query_value($check), $leaked, "$what: the client keeps its state over its transactions");
		my $b = client($u->{name});
		$b->send(SluiceTest::Proto::msg('Q', "$check\0"));
		my ($type) = $b->read_msg(0.5);
		ok(!defined $type, "$what: another client waits: the server stays with the pinned one");
		$a->terminate;
		$r = $b->read_results(10);
		is($r->{rows}[0][0], $clean, "$what: once it leaves, the next client gets the server without the state")
		    or diag(explain($r));
		$b->terminate;
	}
}

# What clears the state unpins: the server goes back to the pool while
# the client stays.
for my $case ([ 'SET search_path = tenant_a', 'RESET ALL' ], [ 'LISTEN c', 'UNLISTEN *' ],
	      [ 'SELECT pg_advisory_lock(1)', 'SELECT pg_advisory_unlock_all()' ],
	      [ 'CREATE TEMP TABLE t9 (x int)', 'DISCARD TEMP' ], [ 'PREPARE s9 AS SELECT 1', 'DEALLOCATE ALL' ],
	      [ 'DECLARE c9 CURSOR WITH HOLD FOR SELECT 1', 'CLOSE ALL' ],
	      [ 'SET search_path = tenant_a; LISTEN c', 'DISCARD ALL' ]) {
	my ($make, $clear) = @$case;
	my $a = client('pin_transaction');
	$a->query($make);
	my $r = $a->query($clear);
	ok(!@{ $r->{errors} }, "unpin: $clear runs");
	my $b = client('pin_transaction');
	is($b->query_value('SELECT 7', timeout => 5), '7', "unpin: after $make, $clear lets the server go while the client stays");
	$a->terminate;
	$b->terminate;
}
{
	# a clear that fails keeps the pin (the state may still be there)
	my $a = client('pin_transaction');
	$a->query('SET search_path = tenant_a');
	$a->query('RESET ALL; SELECT 1/0');
	my $b = client('pin_transaction');
	$b->send(SluiceTest::Proto::msg('Q', "SELECT 8\0"));
	my ($type) = $b->read_msg(0.5);
	ok(!defined $type, 'unpin: a clearing string that fails keeps the pin');
	$a->terminate;
	is($b->read_results(10)->{rows}[0][0], '8', '... until the client leaves');
	$b->terminate;
}

# max_pinned_servers = 1 in a pool of 2 (database app2): one server
# pins; a second client's session state is refused while it does.
{
	my $c1 = $sl->proto(user => 'capped', password => 'pw', db => 'app2');
	ok(!@{ $c1->query('SET search_path = tenant_a')->{errors} }, 'max_pinned_servers: the first client pins');
	my $c2 = $sl->proto(user => 'capped', password => 'pw', db => 'app2');
	my $r = $c2->query('LISTEN x');
	is($r->{errors}[0]{C}, '0A000', 'max_pinned_servers: a second client of the pool is refused');
	like($r->{errors}[0]{M} // '', qr/max_pinned_servers/, '... and told why');
	$c1->terminate;
	ok(wait_for(sub { !@{ $c2->query('LISTEN x')->{errors} } }, timeout => 5),
	   'max_pinned_servers: once the first left, the second may pin');
	$c2->terminate;
}

for my $u (grep { $_->{policy} eq 'warn' } @users) {
	for my $k (@kinds) {
		my ($kind, $sql, $check, $clean, $leaked) = @$k;
		my $what = "warn, $u->{mode} pooling, $kind";
		my $a = client($u->{name});
		my $r = $a->query($sql);
		ok(!@{ $r->{errors} }, "$what: the statement runs");
		my @n = grep { ($_->{M} // '') =~ /^sluice: \Q$kind\E in $u->{mode} pooling/ } @{ $r->{notices} };
		is(scalar @n, 1, "$what: a NOTICE says what leaks") or diag(explain($r->{notices}));
		$r = $a->query($sql =~ /^(LOAD|LISTEN|SET|SELECT)/ ? $sql : 'SELECT 1');
		ok(!grep({ ($_->{M} // '') =~ /^sluice:/ } @{ $r->{notices} }), "$what: once per client and kind");
		$a->terminate;
		# warn lets it run: the next client inherits it (that is the warning)
		my $b = client($u->{name});
		$b->query_value($check);
		$b->query('DISCARD ALL');
		$b->terminate;
	}
}

my $n = state_leaks();
for my $u (@users) {
	for my $k (@kinds) {
		my $kind = $k->[0];
		my $row = $n->{"$u->{name}/$kind"} // {};
		my $col = { refuse => 'refused', pin => 'pinned', warn => 'warned' }->{ $u->{policy} };
		cmp_ok($row->{$col} // 0, '>=', 1, "SHOW STATE_LEAKS: $u->{name} $kind counted as $col");
		is($row->{policy}, $u->{policy}, "SHOW STATE_LEAKS: $u->{name} $kind under policy $u->{policy}")
		    if $row->{policy};
	}
}
is($n->{'warn_transaction/set'}{warned}, 2, 'SHOW STATE_LEAKS: every statement is counted (2), warned once');

# The same counts in the metrics, and the pinned servers now (none).
{
	my $res = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$mport/metrics");
	my $m = $res->{content} // '';
	like($m, qr/^sluice_pool_session_state_total\{database="app",user="refuse_statement",kind="load",action="refused"\} [1-9]\d*$/m,
	     'metrics: sluice_pool_session_state_total by pool, kind and action');
	like($m, qr/^sluice_pool_session_state_total\{database="app",user="warn_transaction",kind="set",action="warned"\} 2$/m,
	     'metrics: ... every warned statement counted');
	like($m, qr/^sluice_pool_pinned_servers\{database="app",user="pin_transaction"\} 0$/m,
	     'metrics: sluice_pool_pinned_servers, 0 once the pinned clients left');
}

# the default is warn, in transaction pooling only; the log line names the
# client's application_name, the kind and the statement's first words,
# never its values
{
	my $c = $sl->proto(user => 'plain', password => 'pw', db => 'app', params => { application_name => 'app_x' });
	my $r = $c->query("SET search_path = tenant_secret_value");
	ok((grep { ($_->{M} // '') =~ /^sluice: set in transaction pooling/ } @{ $r->{notices} }),
	   'default (warn): a NOTICE');
	$c->terminate;
	my ($line) = grep { /app\/plain@/ && /session state/ } split /\n/, $sl->log_contents;
	like($line // '', qr/WARNING C-\d+ app\/plain@\S+ session state in transaction pooling \(application_name "app_x"\): set: SET without LOCAL changes the setting for the server's next clients \("SET search_path \.\.\."\); transaction_session_state = warn lets it run$/,
	     'the warning names client, user, application_name, kind and first words');
	unlike($line // '', qr/tenant_secret_value/, '... and no value');
}
$sl->expect_log(qr/WARNING C-\d+ app\/plain@\S+ session state in transaction pooling/);

# Without statement tracking (max_prepared_statements = 0) Query and Parse
# texts are still looked at: refuse and pin work the same.
{
	my $nt = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') }, users => { plain => 'pw' },
		default_user => 'plain',
		settings => { default_pool_size => 1, pool_mode => 'transaction', max_prepared_statements => 0,
			      transaction_session_state => 'refuse' },
	);
	my $a = $nt->proto(user => 'plain', password => 'pw', db => 'app');
	is($a->query('LISTEN nt')->{errors}[0]{C}, '0A000', 'no statement tracking: a Query is still refused');
	my $msg = \&SluiceTest::Proto::msg;
	$a->send($msg->('P', "\0SET search_path = tenant_a\0" . pack('n', 0)) . $msg->('B', "\0\0" . pack('nnn', 0, 0, 0))
		 . $msg->('E', "\0" . pack('N', 0)) . $msg->('S'));
	my $r = $a->read_results(10);
	is($r->{errors}[0]{C}, '0A000', 'no statement tracking: an unnamed Parse is still refused');
	is($a->query_value('SHOW search_path'), '"$user", public', '... and nothing leaked');
	is($a->query_value('SELECT count(*) FROM pg_listening_channels()'), '0', '... nor the LISTEN');
	$a->terminate;
}

done_testing();
