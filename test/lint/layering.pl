#!/usr/bin/perl
# layering.pl — sluice's modules call down: read the layer order from
# doc/architecture.md (its table "| layer | module | files |"), the
# #include lines of src/*.c and include/*.h, and report every include that
# goes up the order and every cycle among modules.
#
#   perl test/lint/layering.pl [--tap] [--debt FILE] [--root DIR]
#
# --debt FILE: upward includes known and not yet removed ("from -> to" a
# line, # comments): those are reported but pass; an upward include not in
# the file fails, and so does a line of the file that no longer holds (the
# list only shrinks). Cycles are looked for with the debt's edges left out.
use strict;
use warnings;
use File::Basename qw(dirname basename);
use Cwd qw(abs_path);

my $root = abs_path(dirname(__FILE__) . '/../..');
my ($tap, $debt_file) = (0, undef);
while (@ARGV) {
	my $a = shift @ARGV;
	if ($a eq '--tap') { $tap = 1 }
	elsif ($a eq '--debt') { $debt_file = shift @ARGV }
	elsif ($a eq '--root') { $root = shift @ARGV }
	else { die "usage: layering.pl [--tap] [--debt FILE] [--root DIR]\n" }
}

# module -> layer, file stem -> module
my (%layer, %module_of);
open my $doc, '<', "$root/doc/architecture.md" or die "doc/architecture.md: $!\n";
while (my $line = <$doc>) {
	next unless $line =~ /^\|\s*(\d+)\s*\|\s*`?([a-z_]+)`?\s*\|\s*(.*?)\s*\|\s*$/;
	my ($n, $mod, $files) = ($1, $2, $3);
	$layer{$mod} = $n;
	for my $f (split /[,\s]+/, $files) {
		$f =~ s/`//g;
		next unless $f =~ /^([a-z_0-9]+)\.[ch]$/;
		$module_of{$1} = $mod;
	}
}
close $doc;
die "doc/architecture.md: no layer table found\n" unless %layer;

my @problems;
my %edges;    # "from -> to" => [files]
my @sources = (glob("$root/src/*.c"), glob("$root/include/*.h"));
for my $path (@sources) {
	my ($stem) = basename($path) =~ /^([a-z_0-9]+)\.[ch]$/;
	my $from = $module_of{$stem};
	unless (defined $from) {
		push @problems, "$stem: not in doc/architecture.md's layer table";
		next;
	}
	open my $fh, '<', $path or die "$path: $!\n";
	while (my $l = <$fh>) {
		next unless $l =~ /^\s*#\s*include\s+"([a-z_0-9]+)\.h"/;
		my $to = $module_of{$1};
		unless (defined $to) {
			push @problems, "$stem includes $1.h, not in the layer table";
			next;
		}
		next if $to eq $from;
		push @{ $edges{"$from -> $to"} }, basename($path);
	}
	close $fh;
}

my %debt;
if ($debt_file) {
	open my $d, '<', $debt_file or die "$debt_file: $!\n";
	while (my $l = <$d>) {
		$l =~ s/#.*//;
		next unless $l =~ /^\s*([a-z_]+)\s*->\s*([a-z_]+)\s*$/;
		$debt{"$1 -> $2"} = 1;
	}
	close $d;
}

my (@up, @known);
for my $e (sort keys %edges) {
	my ($from, $to) = split / -> /, $e;
	next unless $layer{$to} < $layer{$from};
	my $files = join(', ', sort { $a cmp $b } keys %{ { map { $_ => 1 } @{ $edges{$e} } } });
	if ($debt{$e}) {
		push @known, "$e ($files)";
	} else {
		push @up, "$e: layer $layer{$from} includes layer $layer{$to} ($files)";
	}
}
for my $e (sort keys %debt) {
	my ($from, $to) = split / -> /, $e;
	push @problems, "debt line \"$e\" no longer holds: remove it"
	    unless $edges{$e} && defined $layer{$to} && $layer{$to} < $layer{$from};
}

# cycles among modules (Tarjan), the debt's edges left out
my %adj;
for my $e (keys %edges) {
	next if $debt{$e};
	my ($from, $to) = split / -> /, $e;
	push @{ $adj{$from} }, $to;
}
my ($index, @stack, %idx, %low, %on, @cycles) = (0);
my $visit;
$visit = sub {
	my $v = shift;
	$idx{$v} = $low{$v} = $index++;
	push @stack, $v;
	$on{$v} = 1;
	for my $w (@{ $adj{$v} || [] }) {
		if (!defined $idx{$w}) {
			$visit->($w);
			$low{$v} = $low{$w} if $low{$w} < $low{$v};
		} elsif ($on{$w}) {
			$low{$v} = $idx{$w} if $idx{$w} < $low{$v};
		}
	}
	if ($low{$v} == $idx{$v}) {
		my @scc;
		my $w;
		do { $w = pop @stack; $on{$w} = 0; push @scc, $w } while ($w ne $v);
		push @cycles, join(' ', sort @scc) if @scc > 1;
	}
};
$visit->($_) for sort keys %layer;

if ($tap) {
	print "1..3\n";
	print((@problems ? 'not ok' : 'ok'), " 1 - every source file is in a module of the layer table\n");
	print "# $_\n" for @problems;
	print((@up ? 'not ok' : 'ok'), " 2 - no include goes up the layers (",
	      scalar(@known), " known, in the debt list)\n");
	print "# $_\n" for @up;
	print "# known: $_\n" for @known;
	print((@cycles ? 'not ok' : 'ok'), " 3 - no cycle among modules\n");
	print "# cycle: $_\n" for @cycles;
} else {
	print "problem: $_\n" for @problems;
	print "up: $_\n" for @up;
	print "known: $_\n" for @known;
	print "cycle: $_\n" for @cycles;
}
exit(@problems || @up || @cycles ? 1 : 0);
