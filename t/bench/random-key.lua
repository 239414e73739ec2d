-- wrk script: each request asks for one of 10,000 objects, picked at random.
math.randomseed(os.time())
request = function()
    return wrk.format("GET", string.format("/keys/%d.bin", math.random(0, 9999)))
end
