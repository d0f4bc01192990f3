#!/usr/bin/perl
# The man pages make writes to build/man (SLUICE_MAN_DIR): man --warnings
# finds nothing in them, whatis can read their NAME (lexgrog, as lintian
# does), sluice.ini(5) names every key of src/config_keys.c where it
# belongs, and sluice(1) and sluicectl(1) every option, command and exit
# status of the programs' own help. Each check is also shown to fail on a
# page broken on purpose.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use FileText qw(slurp spew);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $mandir = $ENV{SLUICE_MAN_DIR} // "$root/build/man";
my $sluice = $ENV{SLUICE_BIN} // "$root/sluice";
my $sluicectl = $ENV{SLUICECTL_BIN} // "$root/sluicectl";
my @pages = qw(sluice.1 sluicectl.1 sluice.ini.5);
my $tmp = tempdir(CLEANUP => 1);

# man -l PAGE as a reader at an 80-column terminal sees it: (text, warnings)
sub render {
	my ($page) = @_;
	local $ENV{LC_ALL} = 'C.UTF-8';
	local $ENV{MANWIDTH} = 80;
	delete local $ENV{MAN_KEEP_FORMATTING};
	my $errfile = "$tmp/man.err";
	open my $fh, '-|', 'sh', '-c', 'exec man --warnings -l "$1" 2>"$2"', 'sh', $page, $errfile
		or die "man: $!";
	my $text = do { local $/; <$fh> } // '';
	close $fh;
	my $rc = $? >> 8;
	my $err = slurp($errfile);
	$err .= "man exited with status $rc\n" if $rc != 0;
	return ($text, $err);
}

# Rendered text by section: {"SECTION" => text, "SECTION\0Subsection" => text},
# and the subsection names of each section.
sub sections {
	my ($text) = @_;
	my (%s, %subs);
	my ($sec, $sub) = ('', '');
	for (split /\n/, $text) {
		next if /^\S.*\w\(\d\)\s*$/;    # the header and footer lines
		if (/^(\S.*?)\s*$/) {
			($sec, $sub) = ($1, '');
			next;
		}
		if (/^ {3}(\S.*?)\s*$/) {
			$sub = $1;
			$subs{$sec}{$sub} = 1;
			next;
		}
		$s{$sec} .= "$_\n";
		$s{"$sec\0$sub"} .= "$_\n" if $sub ne '';
	}
	return (\%s, \%subs);
}

sub has { my ($list, $x) = @_; return scalar grep { $_ eq $x } @$list }
sub has_word { return $_[0] =~ /(?<![\w-])\Q$_[1]\E(?![\w-])/ }
# a definition list's term: at the paragraph indent, at the start of a line
sub has_term { return $_[0] =~ /^ {7}(?:\S.*[ ,])?\Q$_[1]\E(?![\w-])/m }

# The key tables of src/config_keys.c: {global => {on => [...], todo => [...]}, db => ..., user => ..., peer => ...}
sub key_tables {
	my ($src) = @_;
	my %t;
	my %name = (global => 'cfg_global_keys', db => 'cfg_db_keys', user => 'cfg_user_keys',
		    peer => 'cfg_peer_keys');
	for my $k (sort keys %name) {
		my ($body) = $src =~ /\b$name{$k}\[\]\s*=\s*\{(.*?)\n\};/s
			or BAIL_OUT("src/config_keys.c: no table $name{$k}");
		$body =~ s{/\*.*?\*/}{}gs;
		while ($body =~ /\b([A-Z_]+)\(\s*"([^"]+)"/g) {
			my ($macro, $key) = ($1, $2);
			BAIL_OUT("src/config_keys.c: row macro $macro unknown to man-pages.t")
				unless $macro =~ /^(?:INT|BOOL|STR|PATH|ENUM|SECS|BYTES|TODO)$/;
			push @{ $t{$k}{ $macro eq 'TODO' ? 'todo' : 'on' } }, $key;
		}
		BAIL_OUT("src/config_keys.c: $name{$k} has no key") unless @{ $t{$k}{on} // [] };
	}
	return \%t;
}

# What sluice.ini(5) lacks: each global key as a subsection of "[sluice] keys",
# those not supported yet in "Keys not supported yet"; each [databases],
# [users] and [peers] key as a term of its section (not supported: named there).
sub missing_keys {
	my ($text, $t) = @_;
	my ($s, $subs) = sections($text);
	my @miss;
	for (@{ $t->{global}{on} }) {
		push @miss, "[sluice] key $_ (a subsection of \"[sluice] keys\")" unless $subs->{'[sluice] keys'}{$_};
	}
	my $todo = $s->{"[sluice] keys\0Keys not supported yet"} // '';
	for (@{ $t->{global}{todo} // [] }) {
		push @miss, "[sluice] key $_ (in \"Keys not supported yet\")" unless has_word($todo, $_);
	}
	for my $p (['db', '[databases]'], ['user', '[users]'], ['peer', '[peers]']) {
		my ($k, $sec) = @$p;
		my $body = $s->{$sec} // '';
		push @miss, "$sec key $_ (a term of \"$sec\")" for grep { !has_term($body, $_) } @{ $t->{$k}{on} };
		push @miss, "$sec key $_ (named in \"$sec\")" for grep { !has_word($body, $_) } @{ $t->{$k}{todo} // [] };
	}
	return @miss;
}

# What a command's page lacks of its help: each option and command as a
# term of OPTIONS / COMMANDS, each exit status as a term of EXIT STATUS.
sub missing_help {
	my ($text, $help) = @_;
	my ($s) = sections($text);
	my @miss;
	my ($usage, $exits) = split /^exit status:\s*$/m, $help, 2;
	my %opt = map { $_ => 1 } $usage =~ /(?<![\w-])(--?[A-Za-z][\w-]*)/g;
	for (sort keys %opt) {
		push @miss, "option $_" unless has_term($s->{OPTIONS} // '', $_);
	}
	my %cmd = map { $_ => 1 } $usage =~ /^\s+sluicectl\s+(?:\[[^]]*\]\s+)*([a-z]+)/mg;
	for (sort keys %cmd) {
		push @miss, "command $_" unless has_term($s->{COMMANDS} // '', $_);
	}
	for my $st (($exits // '') =~ /^\s+(\d[\d\/]*)/mg) {
		for (split m{/}, $st) {
			push @miss, "exit status $_" unless ($s->{'EXIT STATUS'} // '') =~ /^ {7}(?:\S.*[ ,])?$_\b/m;
		}
	}
	return @miss;
}

for my $p (@pages) {
	ok(-s "$mandir/$p", "$p was built")
		or BAIL_OUT("no $mandir/$p: run make (it needs go-md2man: make deps installs it)");
}

my %text;
for my $p (@pages) {
	my ($text, $err) = render("$mandir/$p");
	$text{$p} = $text;
	is($err, '', "$p: man --warnings -l says nothing");
	like($text, qr/^NAME\n/m, "$p: renders");
	my $what = `lexgrog "$mandir/$p" 2>&1`;
	is($? >> 8, 0, "$p: lexgrog reads its NAME, as whatis and lintian do") or diag($what);
}

my $tables = key_tables(slurp("$root/src/config_keys.c"));
my @miss = missing_keys($text{'sluice.ini.5'}, $tables);
is_deeply(\@miss, [], 'sluice.ini.5 has every key of src/config_keys.c where it belongs')
	or diag(join "\n", map { "missing: $_" } @miss);
note(sprintf('%d [sluice], %d [databases], %d [users], %d [peers] keys checked',
	map { @{ $tables->{$_}{on} } + @{ $tables->{$_}{todo} // [] } } qw(global db user peer)));

my $sluice_help = `"$sluice" -h`;
ok($? == 0 && $sluice_help =~ /^\s+-d\s/m, 'sluice -h prints its options') or diag($sluice_help);
@miss = missing_help($text{'sluice.1'}, $sluice_help);
is_deeply(\@miss, [], "sluice.1 describes every option of sluice -h")
	or diag(join "\n", map { "missing: $_" } @miss);

my $ctl_help = `"$sluicectl" --help`;
ok($? == 0 && $ctl_help =~ /^exit status:/m, 'sluicectl --help prints its usage and exit statuses')
	or diag($ctl_help);
@miss = missing_help($text{'sluicectl.1'}, $ctl_help);
is_deeply(\@miss, [], 'sluicectl.1 describes every option, command and exit status of sluicectl --help')
	or diag(join "\n", map { "missing: $_" } @miss);

# --- each check fails on a page that breaks it ---

# go-md2man passes a text line starting with "." to troff as a request
my $roff = slurp("$mandir/sluice.1");
spew("$tmp/bad.1", $roff =~ s/^(\.SH OPTIONS\n)/$1.frobnicate\n/mr . ".PP\n" . ('x' x 100) . "\n");
my (undef, $err) = render("$tmp/bad.1");
like($err, qr/macro 'frobnicate' not defined/, 'a stray request is a warning');
like($err, qr/can't break line/, 'so is a word wider than the page');

spew("$tmp/noname.1", $roff =~ s/^\.SH NAME\n\.PP\n[^\n]*\n//mr);
my $what = `lexgrog "$tmp/noname.1" 2>&1`;
isnt($? >> 8, 0, 'lexgrog fails on a page without NAME') or diag($what);

# a key added to the table without documentation
my %more = %$tables;
$more{global} = { on => [@{ $tables->{global}{on} }, 'frobnicate_timeout'], todo => $tables->{global}{todo} };
$more{db} = { on => $tables->{db}{on}, todo => [@{ $tables->{db}{todo} }, 'frobnicate'] };
@miss = missing_keys($text{'sluice.ini.5'}, \%more);
ok(has(\@miss, '[sluice] key frobnicate_timeout (a subsection of "[sluice] keys")'), 'an undocumented key is missing');
ok(has(\@miss, '[databases] key frobnicate (named in "[databases]")'), '...in [databases] too');

# a key's section gone from the page
my $ini = slurp("$mandir/sluice.ini.5");
my $cut = $ini =~ s/^\.SS \S*listen_port\S*\n.*?(?=^\.SS )//msr;
isnt($cut, $ini, 'listen_port has a subsection in the roff');
spew("$tmp/cut.5", $cut);
my ($cut_text) = render("$tmp/cut.5");
@miss = missing_keys($cut_text, $tables);
ok(has(\@miss, '[sluice] key listen_port (a subsection of "[sluice] keys")'), 'a key cut from the page is missing');

# an option added to the help without a word in the page
@miss = missing_help($text{'sluice.1'}, $sluice_help . "  -Z   frobnicate\n");
ok(has(\@miss, 'option -Z'), 'an undocumented option is missing');
@miss = missing_help($text{'sluicectl.1'}, $ctl_help =~ s/^(usage:\n)/$1  sluicectl [-h HOST] frob DB\n/mr . "  99  frobbed\n");
ok(has(\@miss, 'command frob') && has(\@miss, 'exit status 99'), 'so are a command and an exit status');

done_testing();
