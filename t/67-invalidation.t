# t/67-invalidation.t -- unsafe methods invalidate stored responses (RFC 9111
# 4.4): a POST, PUT, DELETE, PATCH or unknown method answered 2xx makes the
# next GET of its URL go to the origin, and so it does for the URLs in the
# response's Location and Content-Location when they are on the same host; a
# Location on another host, or an error answer, invalidates nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AnyEdgeTest;
use Test::More;

my $origin = start_origin();
my $ae = start_anyedge(sites => [
    { host => 'example.test', origin => $origin->{url} },
    { host => 'other.test', origin => $origin->{url} },
]);
my %site = (port => $ae->{port}, host => 'example.test');

# Send $method to $path; test that it is passed through with the given
# status, and wait for the cache to settle.
sub unsafe_request {
    my ($method, $path, $status) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    served_ok(http(%site, path => $path, method => $method, data => 'x=1'), $method,
              status => $status, x_cache => 'PASS');
    ok(settle_cache(%site), 'cache settled');
}

# Test that a stored $path has been invalidated: a GET goes to the origin.
sub invalidated_ok {
    my ($path) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $count = origin_count($origin, $path);
    # (An invalidated response may be removed or only marked stale.)
    served_ok(http(%site, path => $path), "GET $path", x_cache => 'MISS', body => "hello from demo origin: $path\n",
        cache_status => { fwd => qr/\A(?:uri-miss|stale)\z/, 'fwd-status' => 200, stored => 1 });
    is(origin_count($origin, $path), $count + 1, "GET $path: origin contacted");
}

# Test that a stored $path is still a HIT.
sub not_invalidated_ok {
    my ($path) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $count = origin_count($origin, $path);
    served_ok(http(%site, path => $path), "GET $path", x_cache => 'HIT');
    is(origin_count($origin, $path), $count, "GET $path: origin not contacted");
}

for my $method (qw(POST PUT DELETE PATCH FOO)) {
    subtest "$method invalidates its URL" => sub {
        my $path = "/invalidate/method/$method";
        store_object(%site, path => $path);
        unsafe_request($method, $path, 200);
        invalidated_ok($path);
    };
}

# Each case: a name, the header naming the target URL (its path given as
# "%s"), and whether the target is invalidated.
my @NAMED = (
    [ 'Location (a path)' => 'Location: %s', 1 ],
    [ 'Content-Location (a path)' => 'Content-Location: %s', 1 ],
    [ 'Location (an absolute URL, same host)' => 'Location: http://example.test%s', 1 ],
    [ 'Content-Location (an absolute URL, same host)' => 'Content-Location: http://example.test%s', 1 ],
    [ 'Location (an absolute URL, another host)' => 'Location: http://other.test%s', 0 ],
);
my $serial = 0;
for my $case (@NAMED) {
    my ($name, $header, $invalidates) = @$case;
    subtest "POST answered with $name: " . ($invalidates ? 'invalidates it' : 'does not invalidate it')
        => sub {
        my $target = '/invalidate/target/' . ++$serial;
        store_object(%site, path => $target);
        unsafe_request(POST => origin_path("/invalidate/post/$serial", h => sprintf($header, $target)), 200);
        $invalidates ? invalidated_ok($target) : not_invalidated_ok($target);
    };
}

subtest 'POST answered with 500 does not invalidate' => sub {
    # The first request (the GET) gets a 200, the following ones a 500.
    my $path = origin_path('/invalidate/error', 'fail-after' => 1, fail => 500);
    store_object(%site, path => $path);
    unsafe_request(POST => $path, 500);
    not_invalidated_ok($path);
};

done_testing;
