-- wrk script: every request asks for an object never asked for before (a miss each time).
local counter = 0
local thread_tag = tostring(math.random(1, 1000000000))
request = function()
    counter = counter + 1
    return wrk.format("GET", string.format("/1k.bin?miss=%s-%d", thread_tag, counter))
end
