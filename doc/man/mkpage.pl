#!/usr/bin/perl
# mkpage.pl — turn a man page's Markdown source (doc/man/*.md) into the
# Markdown that go-md2man converts to roff:
#
#   perl doc/man/mkpage.pl --version 0.1.0 doc/man/sluice.ini.5.md > page.md
#   go-md2man -in page.md -out page.roff
#   perl doc/man/mkpage.pl --roff page.roff > sluice.ini.5
#
# - @VERSION@ and @DATE@ (SOURCE_DATE_EPOCH, as reproducible builds set it;
#   empty without it) are filled in;
# - a line "<!-- include: FILE -->" is replaced by FILE (relative to the
#   source's directory) without its first "# " title: sluice.ini(5) is
#   doc/config.md itself, so the two cannot drift;
# - tables become definition lists: go-md2man's tables are wider than a
#   terminal (man --warnings: "table wider than line width"), and each row
#   reads as well as a term with its other columns after it;
# - what go-md2man 2.0.2 would get wrong is written so that it cannot: a
#   text line starting with "." or "'" (troff would take it for a request)
#   joins the line before it, and "<" outside code (taken for HTML and
#   dropped) is escaped;
# - --roff: go-md2man turns hyphenation off with ".nh" before ".TH", which
#   turns it on again, so identifiers got split ("max_lo-gin_clients");
#   the ".nh" is moved after ".TH".
use strict;
use warnings;
use File::Basename qw(dirname);
use POSIX qw(strftime);

my ($version, $src, $roff);
my $usage = "usage: mkpage.pl --version VERSION PAGE.md | mkpage.pl --roff PAGE.roff\n";
while (@ARGV) {
	my $arg = shift @ARGV;
	if ($arg eq '--roff') {
		$roff = 1;
	} elsif ($arg eq '--version') {
		$version = shift @ARGV;
	} elsif (!defined $src && $arg !~ /^-/) {
		$src = $arg;
	} else {
		die $usage;
	}
}
die $usage unless defined $src && ($roff || defined $version && length $version);

my $date = defined $ENV{SOURCE_DATE_EPOCH} && $ENV{SOURCE_DATE_EPOCH} =~ /^\d+$/
	? strftime('%Y-%m-%d', gmtime($ENV{SOURCE_DATE_EPOCH})) : '';

sub slurp {
	my ($path) = @_;
	open my $fh, '<:encoding(UTF-8)', $path or die "mkpage.pl: cannot read $path: $!\n";
	local $/;
	return scalar <$fh>;
}

if ($roff) {
	my $text = slurp($src);
	$text =~ s/^\.nh\n//mg;
	$text =~ s/^(\.TH [^\n]*\n)/$1.nh\n/m or die "mkpage.pl: $src: no .TH line\n";
	binmode STDOUT, ':encoding(UTF-8)';
	print $text;
	exit 0;
}

my @in;
for my $line (split /\n/, slurp($src), -1) {
	if ($line =~ /^<!--\s*include:\s*(\S+)\s*-->\s*$/) {
		my $text = slurp(dirname($src) . "/$1");
		$text =~ s/\A# [^\n]*\n//;   # the page has its own NAME
		push @in, split(/\n/, $text, -1);
		next;
	}
	$line =~ s/\@VERSION\@/$version/g;
	$line =~ s/\@DATE\@/$date/g;
	push @in, $line;
}

# "| a | b |" -> ("a", "b"); a "\|" stays in its cell
sub cells {
	my ($row) = @_;
	$row =~ s/^\s*\|//;
	$row =~ s/\|\s*$//;
	return map { s/^\s+|\s+$//gr } split /(?<!\\)\|/, $row;
}

# A table as a definition list: the first column is the term, the others
# follow as "header: value" ("meaning" needs no label).
sub table_as_list {
	my ($rows) = @_;
	my @head = map { s/`//gr } cells(shift @$rows);
	shift @$rows;   # |---|---|
	my @out = ('');
	for my $row (@$rows) {
		my @c = cells($row);
		my @parts;
		for my $i (1 .. $#c) {
			push @parts, lc($head[$i] // '') eq 'meaning' ? $c[$i] : "$head[$i]: $c[$i]";
		}
		push @out, $c[0], ': ' . join('; ', @parts) . '.', '';
	}
	return @out;
}

my (@out, $fence, $in_code_span);
for (my $i = 0; $i < @in; $i++) {
	my $line = $in[$i];
	if ($line =~ /^\s*(```|~~~)/) {
		$fence = defined $fence && $line =~ /^\s*\Q$fence\E\s*$/ ? undef : ($fence // $1);
		push @out, $line;
		next;
	}
	if (defined $fence) {
		push @out, $line;
		next;
	}
	if ($line =~ /^\s*\|/ && ($in[$i + 1] // '') =~ /^\s*\|[\s|:-]+\|\s*$/) {
		my @rows;
		push @rows, $in[$i++] while $i < @in && $in[$i] =~ /^\s*\|/;
		$i--;
		push @out, table_as_list(\@rows);
		next;
	}
	$in_code_span = 0 if $line =~ /^\s*$/;   # a code span ends with its paragraph
	# escape "<" outside code spans, following backticks across the lines of a paragraph
	my $esc = '';
	for my $part (split /(`+)/, $line) {
		if ($part =~ /^`+$/) {
			$in_code_span = !$in_code_span;
		} elsif (!$in_code_span) {
			$part =~ s/(?<!\\)</\\</g;
		}
		$esc .= $part;
	}
	if ($esc =~ /^\s*[.']/ && @out && $out[-1] =~ /\S/) {
		$out[-1] .= " $esc";
		next;
	}
	push @out, $esc;
}
die "mkpage.pl: $src: a code block is not closed\n" if defined $fence;
binmode STDOUT, ':encoding(UTF-8)';
print join("\n", @out), "\n";
