# What a pipelining client is answered through sluice is what PostgreSQL
# answers it directly, message for message, when sluice slots answers of
# its own (a Parse of a statement the server has, a Close of a name)
# among PostgreSQL's. sluice keeps the answers owed in a queue per
# server; the plain ones (an unnamed Parse, a Bind or Describe without a
# statement of sluice's, an Execute, a Close of a portal, a Sync) share
# one entry per row of them, counted by the messages that end each
# answer. Each pipeline below is sent, byte for byte, once straight to
# PostgreSQL and once through sluice (transaction mode, one server, so
# that the server has the named statements of the pipelines before it),
# and the two streams of answers must agree: type, and the bytes of every
# row, description and completion, the SQLSTATE of every error.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(app_pool);
use SluiceTest::Proto qw(msg parse_error);

my ($pg, $sl) = app_pool(pool_size => 1);
$pg->psql('app', 'CREATE TABLE t (i int)');

sub parse_msg { my ($name, $sql, @oids) = @_; msg('P', "$name\0$sql\0" . pack('n', scalar @oids) . join('', map { pack('N', $_) } @oids)) }
sub bind_msg
{
	my ($portal, $stmt, @params) = @_;
	my $p = join('', map { pack('N', length $_) . $_ } @params);
	return msg('B', "$portal\0$stmt\0" . pack('n', 0) . pack('n', scalar @params) . $p . pack('n', 0));
}
sub describe_msg { my ($what, $name) = @_; msg('D', "$what$name\0") }
sub execute_msg { my ($portal, $max) = @_; msg('E', "$portal\0" . pack('N', $max // 0)) }
sub close_stmt { msg('C', "S$_[0]\0") }
sub sync { msg('S') }
sub query { msg('Q', "$_[0]\0") }
sub plain { my ($sql, @params) = @_; parse_msg('', $sql) . bind_msg('', '', @params) . describe_msg('P', '') . execute_msg('') }

# A Query sent while nothing is owed takes no place in that queue, and
# what sluice queues after it waits for its ReadyForQuery.
# A Close of a statement name is answered by sluice (the server keeps its
# statements for others): put behind a row of plain answers, its
# CloseComplete waits for every one of them, so a row miscounted shows.
my @PIPELINES = (
	[ 'an unnamed query, then a named statement the server lacks',
	  plain('SELECT 1') . parse_msg('s1', 'SELECT 2 AS two') . bind_msg('', 's1') . execute_msg('') . sync() ],
	[ 'the same: the server has s1, sluice answers its Parse behind the row',
	  plain('SELECT 1') . parse_msg('s1', 'SELECT 2 AS two') . bind_msg('', 's1') . execute_msg('') . sync() ],
	[ 'a row, a Close sluice answers, more of the row',
	  parse_msg('s1', 'SELECT 2 AS two') . sync() . plain('SELECT 3') . close_stmt('s1')
	  . plain('SELECT 4') . sync() ],
	[ 'an error in the middle of a row skips to its Sync, then more rows',
	  plain('SELECT 5') . parse_msg('', 'SELEC 6') . bind_msg('', '') . execute_msg('')
	  . parse_msg('s1', 'SELECT 2 AS two') . sync() . plain('SELECT 7') . sync() ],
	[ 'an error in a bound statement, and a Parse sluice cannot answer before its Sync',
	  parse_msg('s1', 'SELECT 2 AS two') . sync() . plain('SELECT 1/0') . parse_msg('s1b', 'SELECT 2 AS two')
	  . bind_msg('', 's1b') . execute_msg('') . sync() . bind_msg('', 's1') . execute_msg('') . sync() ],
	[ 'a Describe of the unnamed statement (parameters and rows)',
	  parse_msg('', 'SELECT $1::int + 1', 23) . describe_msg('S', '') . bind_msg('', '', '41') . execute_msg('')
	  . close_stmt('x') . sync() ],
	[ 'an Execute with a row limit (PortalSuspended), then the rest',
	  parse_msg('', 'SELECT generate_series(1, 5)') . bind_msg('', '') . execute_msg('', 2) . execute_msg('', 2)
	  . execute_msg('') . close_stmt('x') . sync() ],
	[ 'an empty query (EmptyQueryResponse), a Close of the unnamed portal',
	  parse_msg('', '') . bind_msg('', '') . execute_msg('') . msg('C', "P\0") . close_stmt('x') . sync() ],
	[ 'rows of three Syncs, named statements between them',
	  plain('SELECT 8') . sync() . parse_msg('s2', 'SELECT 9 AS nine') . plain('SELECT 10') . sync()
	  . bind_msg('', 's2') . describe_msg('P', '') . execute_msg('') . plain('SELECT 11') . sync() ],
	[ 'a Query after a row with no Sync yet',
	  plain('SELECT 12') . query('SELECT 13') . plain('SELECT 14') . close_stmt('x') . sync() ],
	[ 'a transaction over rows: an insert, an error, a rollback',
	  query('BEGIN') . parse_msg('', 'INSERT INTO t VALUES ($1)', 23) . bind_msg('', '', '1') . execute_msg('')
	  . sync() . plain('SELECT * FROM nope') . sync() . bind_msg('', 's2') . execute_msg('') . sync()
	  . query('ROLLBACK') . plain('SELECT count(*) FROM t') . sync() ],
	[ 'Queries while nothing is owed, then a Close sluice answers',
	  query('SELECT 17') . query('SELECT 18; SELECT 19') . close_stmt('x') . sync() ],
	[ 'a failing Query, a Parse of a statement the server has, a Close',
	  query('SELECT 1/0') . parse_msg('s1', 'SELECT 2 AS two') . close_stmt('x') . sync() ],
	[ 'DEALLOCATE ALL in a Query drops the statements, as on PostgreSQL',
	  parse_msg('s3', 'SELECT 3 AS three') . sync() . query('DEALLOCATE ALL')
	  . bind_msg('', 's3') . execute_msg('') . sync() . parse_msg('s3', 'SELECT 3 AS three')
	  . bind_msg('', 's3') . execute_msg('') . sync() ],
	[ 'a Query inside a transaction, then rows and answers of sluice\'s',
	  query('BEGIN; SELECT 20') . close_stmt('x') . plain('SELECT 21') . query('COMMIT')
	  . close_stmt('y') . sync() ],
	[ 'a row of 300 Executes without a Sync between them',
	  parse_msg('', 'SELECT 15') . join('', map { bind_msg('', '') . execute_msg('') } 1 .. 300)
	  . close_stmt('x') . sync() ],
);

# The answers to $bytes until as many ReadyForQuery as there are sync
# points: one line per message, what must agree.
sub answers
{
	my ($c, $bytes, $syncs) = @_;
	$c->send($bytes);
	my @got;
	while ($syncs > 0) {
		my ($type, $body) = $c->read_msg(5);
		if (!defined $type) {
			push @got, '(no answer)';
			last;
		}
		if ($type eq 'E') {
			my $e = parse_error($body);
			push @got, "E $e->{C}";
		} elsif ($type eq 'N' || $type eq 'S') {
			next;   # notices and parameter changes are not in question here
		} else {
			push @got, $type . ' ' . unpack('H*', $body);
		}
		$syncs-- if $type eq 'Z';
	}
	return \@got;
}

sub sync_points
{
	my ($bytes) = @_;
	my $n = 0;
	while (length $bytes) {
		my ($type, $len) = unpack('aN', $bytes);
		$n++ if $type eq 'S' || $type eq 'Q';
		substr($bytes, 0, 1 + $len, '');
	}
	return $n;
}

for my $p (@PIPELINES) {
	my ($name, $bytes) = @$p;
	my $n = sync_points($bytes);
	my $direct = $pg->proto(user => 'app', password => 'app_pw', db => 'app');
	my $want = answers($direct, $bytes, $n);
	$direct->terminate;
	my $c = $sl->proto;
	my $got = answers($c, $bytes, $n);
	$c->terminate;
	is_deeply($got, $want, "$name: as PostgreSQL answers it") or diag explain { got => $got, want => $want };
}

# The server still answers in order after all of them.
my $c = $sl->proto;
my $r = answers($c, plain('SELECT 16') . sync(), 1);
like($r->[-2] // '', qr/^C /, 'the server is in step afterwards');
$c->terminate;

done_testing();
