#!/usr/bin/perl
# The layering check (layering.pl) on this tree, and proof that it fails
# on an upward include and on a stale line of the debt list.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Cwd qw(abs_path);
use Test::More;

my $dir = abs_path(dirname(__FILE__));
my $root = abs_path("$dir/../..");
my $script = "$dir/layering.pl";
my $debt = "$dir/layering-debt.txt";

sub run_check {
	my (@args) = @_;
	my $out = `$^X $script --tap @args 2>&1`;
	return ($? >> 8, $out);
}

my ($rc, $out) = run_check('--debt', $debt);
is($rc, 0, 'this tree: no new upward include, no cycle, every file placed') or diag($out);
note($out);

# a copy of the tree's sources and doc, to break on purpose
my $tmp = tempdir(CLEANUP => 1);
mkdir "$tmp/$_" for qw(src include doc);
copy($_, "$tmp/src/") for glob("$root/src/*.c");
copy($_, "$tmp/include/") for glob("$root/include/*.h");
copy("$root/doc/architecture.md", "$tmp/doc/");
($rc, $out) = run_check('--root', $tmp, '--debt', $debt);
is($rc, 0, 'the copy passes as the tree does') or diag($out);

open my $fh, '>>', "$tmp/src/base64.c" or die $!;
print $fh "#include \"client.h\"\n";
close $fh;
($rc, $out) = run_check('--root', $tmp, '--debt', $debt);
isnt($rc, 0, 'an include of client.h from base64.c fails');
like($out, qr/^# base -> client: layer \d+ includes layer \d+ \(base64\.c\)/m, '...naming the edge and the file');

my $stale = "$tmp/debt.txt";
copy($debt, $stale);
open $fh, '>>', $stale or die $!;
print $fh "conn -> client\n";
close $fh;
copy("$root/src/base64.c", "$tmp/src/base64.c");
($rc, $out) = run_check('--root', $tmp, '--debt', $stale);
isnt($rc, 0, 'a debt line that no longer holds fails');
like($out, qr/debt line "conn -> client" no longer holds/, '...and says which');

open $fh, '>>', "$tmp/src/htab.c" or die $!;
print $fh "#include \"newthing.h\"\n";
close $fh;
($rc, $out) = run_check('--root', $tmp, '--debt', $debt);
like($out, qr/htab includes newthing\.h, not in the layer table/, 'an unplaced header fails');

done_testing();
