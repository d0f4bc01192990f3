package BenchReport;

# BenchReport — turns test/bench/run's measurements into the summary table
# (medians per scenario and target, and sluice/PgBouncer ratios), the raw
# files (results.tsv, summary.json), the markdown for doc/performance.md and
# the gnuplot chart.
#
#   my @r = map { BenchReport->new(runs => \@runs_of_condition, condition => $c,
#                                  cfg => \%cfg, machine => \%m, versions => \%v,
#                                  date => $date, elapsed => $s) } @conditions;
#   print $_->text_table for @r;  BenchReport::write_raw_all($dir, \@r);
#   my $md = BenchReport::document(\@r);
#   my $png = $r[0]->chart("$dir/performance.png", $tmpdir);   # undef on failure
#
# A run is a hash: condition (quiet, loaded), scenario, pair, target
# (pgbouncer, sluice, direct), what was measured (tps, latency_ms,
# cpu_us_per_tx, kib_per_client, errors, error: why there is no number) and
# the machine sample taken just before it (other_cores, steal, noisy).

use strict;
use warnings;
use JSON::PP ();
use SluiceTest qw(run_cmd spit);

my @TARGETS = qw(pgbouncer sluice direct);
my %TITLE = (pgbouncer => 'PgBouncer', sluice => 'sluice', direct => 'direct');

sub fmt_num
{
	my ($v, $fmt) = @_;
	return 'n/a' unless defined $v;
	return sprintf($fmt, $v) if $fmt;
	my $a = abs($v);
	return sprintf($a >= 100 ? '%.0f' : $a >= 10 ? '%.1f' : $a >= 1 ? '%.2f' : '%.3f', $v);
}

sub commas { my ($n) = @_; 1 while $n =~ s/^(\d+)(\d{3})/$1,$2/; return $n }

sub median
{
	my @v = sort { $a <=> $b } grep { defined } @_;
	return undef unless @v;
	my $m = int(@v / 2);
	return @v % 2 ? $v[$m] : ($v[$m - 1] + $v[$m]) / 2;
}

# The rows of the table: which scenario and metric, unit, which way is
# better, and which targets it applies to.
sub row_specs
{
	my ($cfg) = @_;
	my $n = $cfg->{clients};
	my $nfmt = commas($n);
	my @all = @TARGETS;
	my @pool = qw(pgbouncer sluice);
	return (
		{ id => 'a', scen => 'a', metric => 'tps', unit => 'tps', better => 'higher', targets => \@all,
		  label => 'a. -S -M simple, 50 clients', chart => 'a simple', fmt => '%.0f' },
		{ id => 'b', scen => 'b', metric => 'tps', unit => 'tps', better => 'higher', targets => \@all,
		  label => 'b. -S -M extended, 50 clients', chart => 'b extended', fmt => '%.0f' },
		{ id => 'c', scen => 'c', metric => 'tps', unit => 'tps', better => 'higher', targets => \@all,
		  label => 'c. -S -M prepared, 50 clients', chart => 'c prepared', fmt => '%.0f' },
		{ id => 'd', scen => 'd', metric => 'tps', unit => 'tps', better => 'higher', targets => \@all,
		  label => 'd. TPC-B-like, 20 clients', chart => 'd TPC-B', fmt => '%.0f' },
		{ id => 'e', scen => 'e', metric => 'tps', unit => 'tps', better => 'higher', targets => \@all,
		  label => 'e. -C -S (connect per tx), 20 clients', chart => 'e connect', fmt => '%.0f' },
		{ id => 'e_tls', scen => 'e_tls', metric => 'tps', unit => 'tps', better => 'higher',
		  targets => \@all, label => 'e. -C -S with TLS (sslmode=require)', chart => 'e TLS',
		  fmt => '%.0f' },
		{ id => 'f', scen => 'f', metric => 'tps', unit => 'tps', better => 'higher', targets => \@pool,
		  label => 'f. -S, 1,000 clients', chart => 'f 1000 cl', fmt => '%.0f' },
		{ id => 'g', scen => 'g', metric => 'latency_ms', unit => 'ms', better => 'lower',
		  targets => \@all, label => 'g. -S, 1 client: latency average', chart => 'g latency',
		  fmt => '%.3f' },
		{ id => 'g_added', scen => 'g', metric => 'latency_ms', unit => 'µs', better => 'lower',
		  targets => \@pool, label => 'g. latency added over direct', derived => 'added',
		  chart => 'g added',
		  fmt => '%.1f' },
		{ id => 'h_a', scen => 'a', metric => 'cpu_us_per_tx', unit => 'µs CPU/tx', better => 'lower',
		  targets => \@pool, label => 'h. pooler CPU per transaction in a', chart => 'h CPU a',
		  fmt => '%.1f' },
		{ id => 'h_b', scen => 'b', metric => 'cpu_us_per_tx', unit => 'µs CPU/tx', better => 'lower',
		  targets => \@pool, label => 'h. pooler CPU per transaction in b', chart => 'h CPU b',
		  fmt => '%.1f' },
		{ id => 'h_e', scen => 'e', metric => 'cpu_us_per_tx', unit => 'µs CPU/conn', better => 'lower',
		  targets => \@pool, label => 'h. pooler CPU per connection in e', chart => 'h CPU e',
		  fmt => '%.1f' },
		{ id => 'h_e_tls', scen => 'e_tls', metric => 'cpu_us_per_tx', unit => 'µs CPU/conn',
		  better => 'lower', targets => \@pool, label => 'h. pooler CPU per connection in e with TLS',
		  chart => 'h CPU e TLS', fmt => '%.1f' },
		{ id => 'i', scen => 'i', metric => 'kib_per_client', unit => 'KiB/client', better => 'lower',
		  targets => \@pool, label => "i. RSS per idle client ($nfmt clients)", chart => 'i memory',
		  fmt => '%.2f' },
		{ id => 'j', scen => 'j', metric => 'tps', unit => 'tps', better => 'higher', targets => \@pool,
		  label => "j. $nfmt clients, SELECT 1 for $cfg->{load_secs} s", chart => "j $n cl",
		  fmt => '%.0f' },
		{ id => 'j_err', scen => 'j', metric => 'errors', unit => 'errors', better => 'lower',
		  targets => \@pool, label => 'j. errors (must be 0)', derived => 'sum', fmt => '%d' },
		{ id => 'k_a', scen => 'k_a', metric => 'instructions_per_tx', unit => 'instructions/tx',
		  better => 'lower', targets => \@pool, label => 'k. user-space instructions per transaction in a',
		  chart => 'k instr a', fmt => '%.0f' },
		{ id => 'k_b', scen => 'k_b', metric => 'instructions_per_tx', unit => 'instructions/tx',
		  better => 'lower', targets => \@pool, label => 'k. user-space instructions per transaction in b',
		  chart => 'k instr b', fmt => '%.0f' },
	);
}

sub new
{
	my ($class, %o) = @_;
	my $self = bless { user => scalar(getpwuid($<)) // $<, %o }, $class;
	$self->summarize;
	return $self;
}

# Medians per (row, target), with the first error of a target that has no
# number and a mark when only some of its runs succeeded.
sub summarize
{
	my ($self) = @_;
	my @rows;
	my @notes;
	for my $spec (row_specs($self->{cfg})) {
		my @runs = grep { $_->{scenario} eq $spec->{scen} } @{ $self->{runs} };
		next unless @runs;
		my %row = (%$spec, values => {}, cells => {});
		for my $t (@TARGETS) {
			if (!grep { $_ eq $t } @{ $spec->{targets} }) {
				$row{cells}{$t} = '—';
				next;
			}
			my @mine = grep { $_->{target} eq $t } @runs;
			my @vals = map { $_->{ $spec->{metric} } } @mine;
			my $v = ($spec->{derived} // '') eq 'sum'
			    ? (grep({ defined } @vals) ? eval { my $s = 0; $s += $_ for grep { defined } @vals; $s } : undef)
			    : median(@vals);
			my @bad = grep { $_->{error} } @mine;
			my $err = !@bad ? undef : @bad == 1 ? $bad[0]{error}
			    : scalar(@bad) . " of " . scalar(@mine) . " runs failed; the first: $bad[0]{error}";
			$row{values}{$t} = $v;
			$row{errors}{$t} = $err;
		}
		if (($spec->{derived} // '') eq 'added') {
			my $direct = median(map { $_->{latency_ms} } grep { $_->{target} eq 'direct' } @runs);
			for my $t (@{ $spec->{targets} }) {
				my $v = $row{values}{$t};
				$row{values}{$t} = defined $v && defined $direct ? ($v - $direct) * 1000 : undef;
				$row{errors}{$t} //= 'no direct measurement' unless defined $direct;
			}
		}
		for my $t (@{ $spec->{targets} }) {
			my $v = $row{values}{$t};
			my $cell = fmt_num($v, $spec->{fmt});
			if (my $err = $row{errors}{$t}) {
				my $note = "$TITLE{$t}, scenario $spec->{scen}: $err";
				my ($k) = grep { $notes[$_ - 1] eq $note } 1 .. @notes;
				if (!$k) { push @notes, $note; $k = @notes }
				$cell = defined $v ? "$cell [$k]" : "n/a [$k]";
			}
			$row{cells}{$t} = $cell;
		}
		my ($p, $s) = @{ $row{values} }{qw(pgbouncer sluice)};
		$row{ratio} = defined $p && defined $s && $p > 0 ? $s / $p : undef;
		$row{ratio_cell} = defined $row{ratio} ? sprintf('%.2f', $row{ratio}) : 'n/a';
		my $d = $row{values}{direct};
		if (!defined $row{ratio} && defined $s && defined $d && $d > 0) {
			$row{ratio_direct} = $s / $d;
			$row{ratio_cell} = sprintf('n/a (sluice/direct %.2f)', $s / $d);
		}
		$row{ratio_cell} = '—' if $spec->{id} eq 'j_err';
		push @rows, \%row;
	}
	$self->{rows} = \@rows;
	$self->{notes} = \@notes;
}

sub table_cells
{
	my ($self) = @_;
	my @head = ('scenario', 'unit', 'better', 'PgBouncer', 'sluice', 'direct', 'sluice/PgBouncer');
	my @body = map {
		[ $_->{label}, $_->{unit}, $_->{better}, @{ $_->{cells} }{@TARGETS}, $_->{ratio_cell} ]
	} @{ $self->{rows} };
	return (\@head, \@body);
}

sub text_table
{
	my ($self) = @_;
	my ($head, $body) = $self->table_cells;
	my @w = map { length_chars($_) } @$head;
	for my $r (@$body) {
		for my $i (0 .. $#$r) { $w[$i] = length_chars($r->[$i]) if length_chars($r->[$i]) > $w[$i] }
	}
	my $line = sub {
		my ($r) = @_;
		return join('  ', map { my $c = $r->[$_]; my $pad = ' ' x ($w[$_] - length_chars($c));
					$_ >= 3 ? "$pad$c" : "$c$pad" } 0 .. $#$r) . "\n";
	};
	my $s = "condition: $self->{condition} (" . $self->noisy_summary . ")\n\n";
	$s .= $line->($head) . join('  ', map { '-' x $_ } @w) . "\n";
	$s .= $line->($_) for @$body;
	my $k = 0;
	$s .= "\n" if @{ $self->{notes} };
	$s .= '[' . ++$k . "] $_\n" for @{ $self->{notes} };
	$s .= "\nratio = sluice median / PgBouncer median: above 1 is better where 'better' is higher,\n"
	    . "below 1 is better where it is lower.\n";
	return $s;
}

# characters, not bytes (µ and — are one column each)
sub length_chars
{
	my ($s) = @_;
	my $copy = $s;
	utf8::decode($copy);
	return length $copy;
}

sub markdown_table
{
	my ($self) = @_;
	my ($head, $body) = $self->table_cells;
	my $s = '| ' . join(' | ', @$head) . " |\n";
	$s .= '|' . join('|', map { $_ >= 3 ? '---:' : '---' } 0 .. $#$head) . "|\n";
	$s .= '| ' . join(' | ', map { my $c = $_; $c =~ s/\|/\\|/g; $c } @$_) . " |\n" for @$body;
	return $s;
}

# The project's targets (issue 18, "Performance on a quiet machine"), each
# judged from one condition's medians: [what, wanted, figure, met (undef: no
# figure), stated for the quiet machine only].
sub targets
{
	my ($self) = @_;
	my %r = map { ($_->{id} => $_) } @{ $self->{rows} };
	my $ratio = sub { my $x = $r{ $_[0] }; $x ? $x->{ratio} : undef };
	my $val = sub { my $x = $r{ $_[0] }; $x ? $x->{values}{ $_[1] } : undef };
	my $times = sub { my ($q) = @_; defined $q ? sprintf('%.2f×', $q) : undef };
	my @t;
	for my $k (qw(k_a k_b)) {
		my ($p, $s) = ($val->($k, 'pgbouncer'), $val->($k, 'sluice'));
		push @t, [ "user-space instructions per transaction ($k)", '≤ PgBouncer\'s',
			   defined $p && defined $s ? sprintf('%.0f vs %.0f', $s, $p) : undef,
			   defined $p && defined $s ? $s <= $p : undef ];
	}
	for my $h (qw(h_a h_b)) {
		my $q = $ratio->($h);
		push @t, [ "pooler CPU per transaction ($h)", '≤ 0.60× PgBouncer', $times->($q),
			   defined $q ? $q <= 0.60 : undef ];
	}
	my ($gp, $gs) = ($val->('g_added', 'pgbouncer'), $val->('g_added', 'sluice'));
	push @t, [ 'latency added at 1 client (g)', '≤ PgBouncer\'s',
		   defined $gs && defined $gp ? sprintf('%.1f vs %.1f µs', $gs, $gp) : undef,
		   defined $gs && defined $gp ? $gs <= $gp : undef, 1 ];
	my ($cs, $cd) = ($val->('c', 'sluice'), $val->('c', 'direct'));
	my $qc = defined $cs && defined $cd && $cd > 0 ? $cs / $cd : undef;
	push @t, [ 'throughput, c (prepared), 50 clients', '≥ 0.80× direct',
		   defined $qc ? sprintf('%.2f× direct', $qc) : undef, defined $qc ? $qc >= 0.80 : undef, 1 ];
	for my $h (qw(h_e h_e_tls)) {
		my $q = $ratio->($h);
		push @t, [ "pooler CPU per connection ($h)", '≤ 0.70× PgBouncer', $times->($q),
			   defined $q ? $q <= 0.70 : undef ];
	}
	my $i = $val->('i', 'sluice');
	push @t, [ 'RSS per idle client (i)', '≤ 0.75 KiB', defined $i ? sprintf('%.2f KiB', $i) : undef,
		   defined $i ? $i <= 0.75 : undef, 1 ];
	for my $id (qw(a b d e e_tls f j)) {
		my $q = $ratio->($id);
		push @t, [ "throughput, $id", '≥ 1.00× PgBouncer', $times->($q), defined $q ? $q >= 1.0 : undef ];
	}
	my $e = $val->('j_err', 'sluice');
	push @t, [ 'errors in j', '0', $e, defined $e ? $e == 0 : undef ];
	return @t;
}

# One table for all conditions: a target is met when it holds in every
# condition it is stated for, and was measured there.
sub targets_table
{
	my ($reports) = @_;
	my @per = map { [ $_->targets ] } @$reports;
	my $md = '| target | wanted | ' . join(' | ', map { $_->{condition} } @$reports) . " | |\n";
	$md .= '|---|---|' . join('', map { '---|' } @$reports) . "---|\n";
	for my $i (0 .. $#{ $per[0] }) {
		my ($what, $want) = @{ $per[0][$i] };
		my (@cells, $verdict);
		for my $k (0 .. $#$reports) {
			my ($got, $met, $quiet_only) = @{ $per[$k][$i] }[2, 3, 4];
			my $judged = !($quiet_only && $reports->[$k]{condition} ne 'quiet');
			push @cells, ($got // 'n/a') . ($judged ? '' : ' (not judged)');
			next unless $judged;
			$verdict = !defined $met ? ($verdict // 'n/a') : !$met ? 'not met'
			    : ($verdict // 'met') eq 'not met' ? 'not met' : 'met';
		}
		$verdict = 'n/a' if !grep { $_->{condition} eq 'quiet' } @$reports
		    and $per[0][$i][4];
		$md .= '| ' . join(' | ', $what, $want, @cells, $verdict // 'n/a') . " |\n";
	}
	return $md;
}

# How many measurements ran without the condition holding, and the worst.
sub noisy_summary
{
	my ($self) = @_;
	my @runs = grep { defined $_->{other_cores} } @{ $self->{runs} };
	my @noisy = grep { $_->{noisy} } @runs;
	my ($worst) = sort { $b->{other_cores} <=> $a->{other_cores} } @runs;
	my ($steal) = sort { $b <=> $a } map { $_->{steal} } @runs;
	my $s = sprintf('%d measurement%s, %d flagged not quiet', scalar @runs, @runs == 1 ? '' : 's',
			scalar @noisy);
	$s .= sprintf('; other work at most %.2f cores, steal at most %.1f %%', $worst->{other_cores},
		      100 * ($steal // 0)) if $worst;
	return $s;
}

sub condition_title
{
	my ($self) = @_;
	return $self->{condition} eq 'quiet' ? 'Quiet machine' : 'Loaded machine (one core busy with a CPU burner)';
}

sub condition_section
{
	my ($self) = @_;
	my $k = 0;
	my $notes = join('', map { '[' . ++$k . "] $_  \n" } @{ $self->{notes} });
	$notes = "\nNotes:\n\n$notes" if $notes;
	my $at = $self->{at} // {};
	my $what = $self->{condition} eq 'quiet'
	    ? "Before each measurement the machine was sampled for a second; it waited (up to "
	      . "$self->{quiet_wait} s) while other work kept more than $self->{quiet_busy} of a core busy "
	      . "or the hypervisor stole more than " . (100 * $self->{quiet_steal}) . " % of the time."
	    : "A CPU burner (a busy loop) kept one core busy throughout; before each measurement the "
	      . "machine was sampled the same way, the burner's core not counted as other work.";
	return <<"EOT";
## ${\ $self->condition_title }

$what Load average (1 min) at the start of this condition
${\ $at->{load_start} // '?' }, at its end ${\ $at->{load_end} // '?' }; ${\ $self->noisy_summary }.

${\ $self->markdown_table }$notes
EOT
}

# doc/performance.md: one document for the conditions measured.
sub document
{
	my ($reports) = @_;
	my $self = $reports->[0];
	my ($m, $v, $c) = @{$self}{qw(machine versions cfg)};
	my $quick = $c->{quick} ? ' (QUICK=1: short runs, fewer clients; indicative only)' : '';
	my $conds = join(' and ', map { $_->{condition} } @$reports);
	my $sections = join("\n", map { $_->condition_section } @$reports);
	return <<"EOT";
# Performance: sluice against PgBouncer

Measured by `make bench` (`test/bench/run`) on $self->{date}$quick, in
${\ sprintf('%.0f', $self->{elapsed})} s, in two conditions one after the other: $conds.
Regenerate with `make bench`; `QUICK=1 make bench` is a short smoke run that
writes to `build/bench/` only.

## Machine

| | |
|---|---|
| CPU | $m->{cpu}, $m->{cores} cores |
| memory | $m->{memory} |
| kernel | $m->{kernel} |
| load average (1 min) at start, at end | $m->{load}, $m->{load_end} |
| PostgreSQL | $v->{postgresql} |
| PgBouncer | $v->{pgbouncer} |
| sluice | $v->{sluice} |
| pgbench | $v->{pgbench} |

## How to read the tables

Medians of $c->{pairs} run(s) per target. Each scenario ran against PgBouncer,
sluice and PostgreSQL directly in turn, $c->{pairs} time(s) over (A B A B ...),
$c->{duration} s per pgbench run. The ratio is sluice's median over PgBouncer's:
above 1 is better for sluice where *better* is *higher*, below 1 where it is
*lower*. "—": does not apply or not run: a direct connection has no pooler
to measure; PostgreSQL forks a backend per connection, so 1,000 (f) or
${\ commas($c->{clients}) } (i, j) direct connections are not a reference anyone runs, and
on a small machine they take longer to start than a run lasts. A target is
met only when it holds in every condition it is stated for.

## Targets

Issue 18's targets, judged from the medians above. Three are stated for
a quiet machine only (g, c, i): under load they are shown, not judged.

${\ targets_table($reports) }
$sections
![sluice, PgBouncer and direct PostgreSQL, $self->{condition}](performance.png)

## Method

- One scratch PostgreSQL for all three, tuned for benchmarking: `fsync`,
  `synchronous_commit` and `full_page_writes` off, `max_connections = 200`,
  `shared_buffers = 256MB`, autovacuum off; a pgbench database of scale
  $c->{scale}, warmed up by a `pgbench -S` run directly before the
  first measurement.
- PgBouncer and sluice read the same settings: `pool_mode = transaction`,
  `default_pool_size = $c->{pool}`, no reserve pool, md5 authentication from
  the same `userlist.txt` (plain password), md5 to PostgreSQL too (and for
  the direct row), `max_client_conn = ${\ ($c->{clients} + 1100) }`, connection logging off,
  `client_tls_sslmode = prefer` with a throwaway self-signed RSA-2048
  certificate, `server_tls_sslmode = disable` (PgBouncer 1.18's default;
  sluice's is `prefer`, and PostgreSQL here offers TLS). Keys sluice does not implement yet are ignored by it with a
  warning. PgBouncer runs as `postgres` (it refuses root), sluice as the
  user running the bench ($self->{user}).
- Everything runs on the one machine: pgbench, the pooler and PostgreSQL
  share its $m->{cores} cores, so a pooler that uses less CPU leaves more for
  PostgreSQL and pgbench. The alternation spreads what other load there is
  over both poolers; the quiet condition waits for it to go, the loaded one
  adds a fixed amount of it.
- a–g: `pgbench -n -T $c->{duration}` against the target (`-j 2`; `-j 50` for
  `-M prepared`, whose blocking prepare would otherwise stall a thread
  whose clients wait for the pool). `-C` opens a connection per transaction.
  TLS rows use `sslmode=require`; the others `sslmode=disable`.
- g, latency added: the pooler's median latency minus direct's, in µs.
- h: the pooler process's user+system CPU time (`/proc/PID/stat` fields 14
  and 15) over the run, divided by the transactions pgbench counted (in e,
  a transaction per connection: CPU per connection).
- i: `test/bench/idle_conns` logs in ${\ commas($c->{clients}) } clients (md5) from
  127.0.0.2–127.0.0.@{[ 1 + $c->{sources} ]} and holds them idle; (VmRSS with them −
  VmRSS before) / clients, on a freshly started pooler warmed by one login.
- j: the same tool runs `SELECT 1` back to back on each of ${\ commas($c->{clients}) }
  connections for $c->{load_secs} s over the pool of $c->{pool}; errors are failed
  logins, ErrorResponses, lost connections and unanswered queries.
- k: the pooler runs under valgrind's callgrind while 10 pgbench clients
  run a's (or b's) transactions, once with 1 and once with $self->{k_txn}
  transactions each; (instructions of the second − of the first) /
  transactions between them. User space only (the kernel's share is not
  counted); load changes it only through how many events arrive per loop pass.
- Raw numbers of every run, with the machine sample before it:
  `build/bench/results.tsv` and `summary.json`.
${\ $self->history }
EOT
}

# The hand-kept record of what each optimisation bought (figures from the
# runs of the day), carried into every regenerated report.
sub history
{
	my ($self) = @_;
	my $file = $self->{history_file};
	return '' unless $file && -r $file;
	open my $fh, '<', $file or return '';   # bytes, like the rest of the report
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

sub write_raw_all
{
	my ($dir, $reports) = @_;
	my @cols = qw(condition scenario pair target tps latency_ms transactions failed cpu_us_per_tx
		      tps_by_luck kib_per_client rss_before_kib rss_after_kib instructions_per_tx errors
		      other_cores steal noisy error);
	my $tsv = join("\t", @cols) . "\n";
	for my $r (map { @{ $_->{runs} } } @$reports) {
		$tsv .= join("\t", map { my $v = $r->{$_} // ''; $v =~ s/[\t\n]/ /g; $v } @cols) . "\n";
	}
	spit("$dir/results.tsv", $tsv);
	my $json = JSON::PP->new->canonical->pretty;
	my %by;
	for my $self (@$reports) {
		$by{ $self->{condition} } = [ map {
			my $r = $_;
			{ id => $r->{id}, label => $r->{label}, unit => $r->{unit}, better => $r->{better},
			  (map { ($_ => $r->{values}{$_}) } @{ $r->{targets} }),
			  ratio => $r->{ratio}, ratio_sluice_direct => $r->{ratio_direct},
			  errors => { map { ($_ => $r->{errors}{$_}) } grep { $r->{errors}{$_} } @TARGETS } }
		} @{ $self->{rows} } ];
	}
	my $self = $reports->[0];
	spit("$dir/summary.json", $json->encode({
		date => $self->{date}, machine => $self->{machine}, versions => $self->{versions},
		config => $self->{cfg}, elapsed_seconds => $self->{elapsed}, rows => \%by,
		runs => [ map { @{ $_->{runs} } } @$reports ] }));
}

# Two panels: throughput of the tps scenarios (log scale), and sluice
# relative to PgBouncer for every row (above 1: sluice better).
sub chart
{
	my ($self, $png, $tmp) = @_;
	my ($tp, $rel) = ('', '');
	for my $r (@{ $self->{rows} }) {
		my $label = $r->{chart} // $r->{id};
		if ($r->{unit} eq 'tps') {
			$tp .= qq{"$label"} . join('', map { ' ' . ($r->{values}{$_} // '?') } @TARGETS) . "\n";
		}
		next if $r->{id} eq 'j_err' || !defined $r->{ratio} || $r->{ratio} <= 0;
		my $adv = $r->{better} eq 'higher' ? $r->{ratio} : 1 / $r->{ratio};
		$rel .= qq{"} . ($r->{chart} // $r->{id}) . qq{" $adv\n};
	}
	return undef unless length $tp;
	spit("$tmp/throughput.dat", $tp);
	spit("$tmp/relative.dat", length $rel ? $rel : qq{"none" ?\n});
	my ($terms) = run_cmd([ 'gnuplot', '-e', 'set terminal' ], timeout => 30);
	my (undef, $terms_err) = run_cmd([ 'gnuplot', '-e', 'set terminal' ], timeout => 30);
	my $term = ($terms . $terms_err) =~ /pngcairo/ ? 'pngcairo size 1100,900 font "sans,10"'
		 : 'png size 1100,900';
	my $title = "sluice vs PgBouncer vs direct PostgreSQL — $self->{machine}{cores} cores, "
	    . "$self->{condition} machine, $self->{date}";
	$title =~ s/"/'/g;
	my $gp = <<"EOT";
set terminal $term
set output '$png'
set datafile missing '?'
set termoption noenhanced
set multiplot layout 2,1 title "$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside below horizontal
set logscale y
set ylabel 'transactions/s (log scale)'
set title 'Throughput (higher is better)'
plot '$tmp/throughput.dat' using 2:xtic(1) title 'PgBouncer' lc rgb '#4c72b0', \\
     '' using 3 title 'sluice' lc rgb '#dd8452', \\
     '' using 4 title 'direct' lc rgb '#8c8c8c'
unset logscale y
set title 'sluice relative to PgBouncer (above 1: sluice better; lower-is-better rows inverted)'
set ylabel 'advantage (×)'
set yrange [0:*]
set style histogram clustered gap 1
plot '$tmp/relative.dat' using 2:xtic(1) title 'sluice / PgBouncer' lc rgb '#dd8452', \\
     1 with lines lc rgb 'black' dt 2 notitle
unset multiplot
EOT
	spit("$tmp/chart.gp", $gp);
	my ($out, $err, $rc) = run_cmd([ 'gnuplot', "$tmp/chart.gp" ], timeout => 60);
	if ($rc != 0 || !-s $png) {
		print STDERR "bench: gnuplot failed, no chart:\n$out$err";
		return undef;
	}
	return $png;
}

1;
