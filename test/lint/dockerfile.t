#!/usr/bin/perl
# The Dockerfile, without a Docker engine: two linters from npm
# (dockerfile-utils, the parser behind editors' Dockerfile support, and
# dockerfilelint, which knows apt-get's pitfalls; test/lint/js) find
# nothing in it, and each is shown to catch a broken copy. Then the
# Dockerfile is checked against what it builds from: its build stage copies
# exactly the Makefile's DEB_SRC, installs debian/control's Build-Depends
# and runs `make deb`; its second stage installs the file `make deb` writes
# (by a pattern that takes the package and not its -dbgsym sibling), runs
# as the user the package's postinst makes, exposes 6432, and starts the
# one-line start listening beyond the container's loopback. The README
# shows the docker run line.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use JSON::PP qw(decode_json);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use FileText qw(slurp spew);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $jsdir = "$root/test/lint/js";
my $tmp = tempdir(CLEANUP => 1);
# and make asan's BUILD=build/asan OUT=... SAN=1, which reach us as
# environment variables
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL BUILD OUT SAN)};

# (output of stdout and stderr together, exit status)
sub run {
	my (@argv) = @_;
	open my $fh, '-|', 'sh', '-c', 'exec "$@" 2>&1', 'sh', @argv or die "$argv[0]: $!";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	return ($out, $? >> 8);
}

plan(skip_all => 'node is not installed (Debian nodejs; make deps)')
    unless (run('node', '--version'))[1] == 0;

# --- the linters -----------------------------------------------------------

if (!-x "$jsdir/node_modules/.bin/dockerfilelint" || !-x "$jsdir/node_modules/.bin/dockerfile-utils") {
	my ($out, $rc) = run('sh', '-c', 'cd "$1" && npm ci --no-audit --no-fund', 'sh', $jsdir);
	diag("npm ci in $jsdir failed (rc $rc):\n$out") if $rc != 0;
}
ok(-x "$jsdir/node_modules/.bin/dockerfilelint" && -x "$jsdir/node_modules/.bin/dockerfile-utils",
   'dockerfile-utils and dockerfilelint installed in test/lint/js (npm ci from package-lock.json)')
    or BAIL_OUT('the Dockerfile linters are required: run npm ci in test/lint/js');

# What each linter says of a file: a list of problems, empty when clean.
sub lint_utils {
	my ($file) = @_;
	my ($out, $rc) = run("$jsdir/node_modules/.bin/dockerfile-utils", 'lint', $file);
	my @problems = $out =~ /^((?:Error|Warning): .*)$/mg;
	push @problems, "dockerfile-utils exited $rc:\n$out" if $rc != 0 && !@problems;
	push @problems, "unexpected output:\n$out" if $rc == 0 && !@problems && $out =~ /\S/;
	return @problems;
}

sub lint_dfl {
	my ($file) = @_;
	my ($out, $rc) = run("$jsdir/node_modules/.bin/dockerfilelint", '-j', $file);
	my $report = eval { decode_json($out =~ /(\{.*\})/s ? $1 : '') };
	return ("dockerfilelint gave no report (rc $rc):\n$out") unless $report && defined $report->{totalIssues};
	my @problems = map { "line $_->{line}: $_->{title}" } map { @{ $_->{issues} } } @{ $report->{files} };
	push @problems, "dockerfilelint counts $report->{totalIssues} issues" if $report->{totalIssues} && !@problems;
	return @problems;
}

my $dockerfile = "$root/Dockerfile";
my $text = slurp($dockerfile);
my @p = lint_utils($dockerfile);
ok(!@p, 'dockerfile-utils lint: no error or warning in the Dockerfile') or diag(join("\n", @p));
@p = lint_dfl($dockerfile);
ok(!@p, 'dockerfilelint: no issue in the Dockerfile') or diag(join("\n", @p));

# Each catches a mistake in a copy of our file.
{
	(my $bad = $text) =~ s{^COPY include \./include$}{COPY include}m or die 'no COPY include line';
	spew("$tmp/Dockerfile.utils", $bad);
	my @q = lint_utils("$tmp/Dockerfile.utils");
	ok((grep { /COPY requires at least two arguments/ } @q), 'dockerfile-utils finds a COPY without a destination')
	    or diag(join("\n", @q));

	($bad = $text) =~ s{apt-get install -y --no-install-recommends /tmp}{apt-get install /tmp} or die 'no install of the .deb';
	spew("$tmp/Dockerfile.dfl", $bad);
	@q = lint_dfl("$tmp/Dockerfile.dfl");
	ok((grep { /-y. flag|apt-get/ } @q), 'dockerfilelint finds an apt-get install that would wait for an answer')
	    or diag(join("\n", @q));
}

# --- in step with make deb ---------------------------------------------------

# The Makefile's own values, as make computes them.
spew("$tmp/vars.mk", "print-deb-vars:\n\t\@echo 'DEB_SRC=\$(DEB_SRC)'\n\t\@echo 'DEB_DIR=\$(DEB_DIR)'\n\t\@echo 'VERSION=\$(VERSION)'\n");
my ($vars, $mrc) = run('make', '--no-print-directory', '-s', '-C', $root, '-f', 'Makefile', '-f', "$tmp/vars.mk", 'print-deb-vars');
is($mrc, 0, 'make prints DEB_SRC, DEB_DIR and VERSION') or diag($vars);
my %mk = $vars =~ /^(\w+)=(.*)$/mg;
my @deb_src = split ' ', $mk{DEB_SRC} // '';
ok(@deb_src >= 5, "the Makefile's DEB_SRC: @deb_src");
my $arch = (run('dpkg', '--print-architecture'))[0];
chomp $arch;
my $deb_name = "sluice_$mk{VERSION}_$arch.deb";

# The instructions of each stage: [ [INSTRUCTION, arguments], ... ], with
# continuation lines joined and comments dropped.
my @stages;
{
	(my $joined = $text) =~ s/\\\n/ /g;
	for my $line (split /\n/, $joined) {
		next if $line =~ /^\s*(#|$)/;
		my ($ins, $args) = $line =~ /^\s*(\w+)\s+(.*?)\s*$/ or next;
		push @stages, [] if uc $ins eq 'FROM';
		push @{ $stages[-1] }, [ uc $ins, $args ];
	}
}
is(scalar @stages, 2, 'two stages');
my ($build, $run) = @stages;
sub args_of { my ($stage, $ins) = @_; return map { $_->[1] } grep { $_->[0] eq $ins } @$stage }

is((args_of($build, 'FROM'))[0], 'debian:12 AS build', 'the build stage is Debian 12');
is((args_of($run, 'FROM'))[0], 'debian:12-slim', 'the image is Debian 12 slim');

# COPY of the build stage: each source to the same path under WORKDIR.
{
	my @copied;
	for my $a (args_of($build, 'COPY')) {
		my @w = split ' ', $a;
		my $dest = pop @w;
		if ($dest eq './') { push @copied, @w }
		elsif (@w == 1 && $dest eq "./$w[0]") { push @copied, $w[0] }
		else { fail("COPY $a: not a source to its own path") }
	}
	is_deeply([ sort @copied ], [ sort @deb_src ], "the build stage copies exactly DEB_SRC (@copied)");
}
ok((grep { /^make deb$/ } args_of($build, 'RUN')), 'the build stage runs make deb');
{
	my @ignored = grep { !/^\s*(#|$)/ } split /\n/, slurp("$root/.dockerignore");
	my @lost;
	for my $src (@deb_src) {
		push @lost, "$src (by $_)" for grep { my $p = $_ =~ s{/+$}{}r; $src eq $p || index($src, "$p/") == 0 } @ignored;
	}
	is_deeply(\@lost, [], '.dockerignore keeps none of DEB_SRC out of the build context');
}

# Build-Depends of debian/control, each installed by the build stage.
{
	my ($bd) = slurp("$root/debian/control") =~ /^Build-Depends:\s*(.*?)\n(?!\s)/ms;
	my @need = map { s/\s*[\(\[].*//sr } map { s/^\s+|\s+$//gr } split /,/, $bd // '';
	s/^debhelper-compat$/debhelper/ for @need;
	push @need, qw(build-essential dpkg-dev);
	my ($install) = grep { /apt-get install/ } args_of($build, 'RUN');
	my %have = map { $_ => 1 } split ' ', ($install // '') =~ s/.*apt-get install\s+//r =~ s/&&.*//r;
	my @missing = grep { !$have{$_} } @need;
	ok(@need > 5 && !@missing, "the build stage installs debian/control's Build-Depends (@need)")
	    or diag("missing: @missing");
}

# The package: copied from where make deb writes it, and installed.
{
	my ($from) = grep { /^--from=build / } args_of($run, 'COPY');
	my ($src_glob, $dest) = ($from // '') =~ m{^--from=build\s+/src/(\S+)\s+(\S+)$};
	ok(defined $src_glob, "the image copies the package from the build stage ($src_glob)");
	$src_glob //= '';
	my $re = join '', map { $_ eq '*' ? '[^/]*' : quotemeta } split /(\*)/, $src_glob;
	like("$mk{DEB_DIR}/$deb_name", qr/^$re$/, "the pattern takes $mk{DEB_DIR}/$deb_name, make deb's file");
	unlike("$mk{DEB_DIR}/sluice-dbgsym_$mk{VERSION}_$arch.deb", qr/^$re$/, '... and not the -dbgsym package');
	(my $base_glob = $src_glob) =~ s{.*/}{};
	my ($install) = grep { /apt-get install/ } args_of($run, 'RUN');
	like($install // '', qr{apt-get install -y --no-install-recommends \Q$dest$base_glob\E(\s|$)},
	     'apt-get installs that file (its postinst makes the user sluice)');
}
is_deeply([ args_of($run, 'USER') ], [ 'sluice' ], 'runs as the user sluice');
is_deeply([ args_of($run, 'EXPOSE') ], [ '6432' ], 'exposes 6432');
{
	my ($sbin) = slurp("$root/debian/sluice.install") =~ m{^sluice\s+(\S+)$}m;
	is_deeply([ args_of($run, 'ENTRYPOINT') ], [ qq{["/$sbin/sluice"]} ],
		  "the entrypoint is the packaged /$sbin/sluice");
	is_deeply([ args_of($run, 'CMD') ], [ '["--listen", "0.0.0.0:6432"]' ],
		  'with no configuration file it listens on every address of the container, port 6432');
}

my $readme = slurp("$root/README.md");
like($readme, qr/docker run -e SLUICE_DATABASE_URL=postgresql:\S+ -p 6432:6432 sluice/,
     'the README shows docker run -e SLUICE_DATABASE_URL=... -p 6432:6432');
like($text, qr/docker run -e SLUICE_DATABASE_URL=postgresql:\S+ -p 6432:6432 sluice/,
     "and so does the Dockerfile's header");

done_testing();
