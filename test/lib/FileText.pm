package FileText;

# FileText — whole files as text, for the tests that need no harness
# (test/lint/*.t): slurp dies on a file that cannot be read, where
# SluiceTest's gives ''.
#
#   use FileText qw(slurp spew);
#   my $text = slurp($path);  spew($path, $text);

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(slurp spew);

sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!";
	local $/;
	return scalar <$fh>;
}

sub spew
{
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh or die "$path: $!";
}

1;
