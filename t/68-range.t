# t/68-range.t -- Range requests (RFC 9110 14) answered by the cache: single
# ranges of a stored response (first-last, open-ended, suffix, clipped) as a
# 206 HIT, an unsatisfiable range as 416, several ranges as the whole 200,
# If-Range (strong comparison with the ETag); and a Range request for an
# uncached URL fetches (and stores) the whole object, the client getting its
# 206.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [ { host => 'example.test', origin => $origin->{url} } ]);
my %site = (port => $ae->{port}, host => 'example.test');

my $SIZE = 1000;
my $BODY = expected_body($SIZE);
my $STORED = origin_path('/range', size => $SIZE, etag => '"r1"');
subtest 'a 1000-byte object is stored' => sub { store_object(%site, path => $STORED) };

# Each case: request headers, the expected status, Content-Range, and body
# (the bytes from $first to $last, or the whole body; none for 416).
my @RANGES = (
    [ ['Range: bytes=0-99'], 206, 'bytes 0-99/1000', 0, 99 ],
    [ ['Range: bytes=900-'], 206, 'bytes 900-999/1000', 900, 999 ],
    [ ['Range: bytes=-100'], 206, 'bytes 900-999/1000', 900, 999 ],
    [ ['Range: bytes=990-2000'], 206, 'bytes 990-999/1000', 990, 999 ],
    [ ['Range: bytes=2000-3000'], 416, 'bytes */1000' ],
    [ ['Range: bytes=0-1,5-6'], 200, undef, 0, 999 ],
    [ ['Range: bytes=0-99', 'If-Range: "r1"'], 206, 'bytes 0-99/1000', 0, 99 ],
    [ ['Range: bytes=0-99', 'If-Range: "r2"'], 200, undef, 0, 999 ],
    [ ['Range: bytes=0-99', 'If-Range: W/"r1"'], 200, undef, 0, 999 ],
);
for my $case (@RANGES) {
    my ($headers, $status, $content_range, $first, $last) = @$case;
    subtest join(', ', @$headers) . ": $status" => sub {
        my $body = defined $first ? substr($BODY, $first, $last - $first + 1) : undef;
        my $r = served_ok(http(%site, path => $STORED, headers => $headers), 'from the cache',
            status => $status, x_cache => 'HIT', cache_status => { hit => 1, ttl => [50, 60] },
            body => $body);
        is($r->{headers}{'content-range'}, $content_range,
           defined $content_range ? "Content-Range: $content_range" : 'no Content-Range');
        is($r->{headers}{'content-length'}, length $body, 'Content-Length') if defined $body;
        is(origin_count($origin, $STORED), 1, 'origin not contacted');
    };
}

subtest 'Range request for an uncached URL: whole object fetched and stored' => sub {
    my $path = origin_path('/range-miss', size => $SIZE);
    my $r = served_ok(http(%site, path => $path, headers => ['Range: bytes=10-19']), 'MISS',
        status => 206, x_cache => 'MISS', body => substr($BODY, 10, 10),
        cache_status => { fwd => 'uri-miss', 'fwd-status' => 200, stored => 1 });
    is($r->{headers}{'content-range'}, 'bytes 10-19/1000', 'Content-Range');
    my @requests = origin_requests_for($origin, $path);
    is(scalar @requests, 1, 'one origin request');
    ok(!exists $requests[0][2]{range}, 'without Range') or diag("Range: $requests[0][2]{range}");
    served_ok(stored_ok(%site, origin => $origin, path => $path), 'then a GET', x_cache => 'HIT', body => $BODY);
};

done_testing;
