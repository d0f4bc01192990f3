# Several sluices as one cluster (doc/cluster.md), for test/integ/7*.t:
# the coordination database (a role and database of its own on the test's
# PostgreSQL), members started with the cluster keys, their consoles, SHOW
# PEERS and SHOW GATES as hashes, and kill -9 of one member by its pid.
package SluiceTest::Cluster;
use strict;
use warnings;
use Carp qw(croak);
use Exporter qw(import);
use SluiceTest qw(wait_for free_port);

our @EXPORT_OK = qw(coord_setup member console rows_of peers_by_id gate_of kill9 console_query);

# The coordination database: role `coord` owning database `coord`, so the
# first member may create the schema. Returns its libpq connection string.
sub coord_setup
{
	my ($pg) = @_;
	$pg->create_role('coord', 'coord_pw');
	$pg->create_db('coord', 'coord');
	return $pg->connstr('coord', user => 'coord', password => 'coord_pw');
}

# A member: peer id, the databases it serves, extra settings; not started
# when start => 0. Users: app/app_pw, admin/admin_pw (admin_users).
sub member
{
	my (%o) = @_;
	my $pg = $o{pg};
	return SluiceTest::Sluice->new(
		pg => $pg,
		databases => $o{databases} // { app => $pg->connstr('app') },
		users => { app => 'app_pw', admin => 'admin_pw', %{ $o{users} // {} } },
		settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
			      default_pool_size => 4, peer_id => $o{id}, cluster_name => $o{name} // 'test',
			      cluster_dsn => $o{dsn}, cluster_heartbeat => 0.5,
			      cluster_member_timeout => 3, %{ $o{settings} // {} } },
		default_user => 'app',
		start => $o{start} // 1,
		wait_login => $o{wait_login} // 1,
	);
}

# A console through the member's own unix socket.
sub console
{
	my ($sl) = @_;
	return $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer', host => $sl->sockdir);
}

sub rows_of
{
	my ($r) = @_;
	my @rows;
	for my $row (@{ $r->{rows} // [] }) {
		push @rows, { map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row };
	}
	return @rows;
}

sub peers_by_id
{
	my ($c) = @_;
	return { map { ($_->{peer_id} => $_) } rows_of($c->query('SHOW PEERS')) };
}

sub gate_of
{
	my ($c, $db) = @_;
	for my $g (rows_of($c->query('SHOW GATES'))) {
		return $g if $g->{database} eq $db;
	}
	return {};
}

# One console command: (tags, first error's message, its detail).
sub console_query
{
	my ($c, $sql, $timeout) = @_;
	$c->send(SluiceTest::Proto::msg('Q', "$sql\0"));
	my $r = $c->read_results($timeout // 30);
	my $e = $r->{errors}[0];
	return ($r->{tags} // [], $e ? $e->{M} : undef, $e ? $e->{D} : undef, $r);
}

# kill -9 of one member by its pid; its exit counts as clean for check_log.
sub kill9
{
	my ($sl) = @_;
	my $pid = $sl->pid or croak "not running";
	kill 'KILL', $pid;
	waitpid($pid, 0);
	$sl->{pid} = undef;
	$sl->{exit_status} = 0;
}

1;
