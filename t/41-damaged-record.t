# t/41-damaged-record.t -- a stored record that cannot be decoded (a damaged byte, or another
# format version) is a miss, is fetched again and replaced; the daemon never crashes on it.
# The records are damaged in the real LMDB files with lmdb-utils' mdb_dump and mdb_load.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

# How each record is damaged: a function of the record's bytes (as a hex string). Byte 155 lies
# in a header value, which only the record's checksum protects.
my %damage = (
    '/dmg?kind=flipped-byte' => sub { my $hex = shift; substr($hex, 310, 2) = sprintf("%02x", hex(substr($hex, 310, 2)) ^ 0x40); $hex },
    '/dmg?kind=old-version'  => sub { my $hex = shift; substr($hex, 8, 4) = '6300'; $hex },
    '/dmg?kind=truncated'    => sub { my $hex = shift; substr($hex, 0, 120) },
);

miss_then_hit(%site, origin => $origin, path => $_) for sort keys %damage;
my %count = map { $_ => origin_count($origin, $_) } keys %damage;
is(stop_anyedge($ae), 0, 'stopped');

# Rewrite the damaged records in the store while the daemon is down.
is(damage_records($ae, { map { ("example.test$_" => $damage{$_}) } keys %damage }), scalar keys %damage,
   'damaged every record in the store');

restart_anyedge($ae);
for my $path (sort keys %damage) {
    my $r = http(%site, path => $path);
    is($r->{status}, 200, "$path: answered");
    is($r->{headers}{'x-cache'}, 'MISS', "$path: a miss");
    like($r->{headers}{'cache-status'}, qr/fwd=uri-miss; fwd-status=200; stored/, "$path: fetched and stored again");
    is(origin_count($origin, $path), $count{$path} + 1, "$path: one more origin request");
    my ($hit) = wait_for_hit(%site, path => $path);
    is($hit->{headers}{'x-cache'}, 'HIT', "$path: a HIT again once replaced");
}
ok(anyedge_running($ae), 'the daemon is still running');

done_testing;
