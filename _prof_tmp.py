import time, os, numpy as np, io, distjit
from bench.serialize import _function
rng=np.random.default_rng(0)
params={f"w{i}": rng.standard_normal(2**25, dtype=np.float32) for i in range(8)}
f=_function(params)
from distjit.serialize.encode import encode_function
from distjit.serialize.files import write_model
t=time.perf_counter(); m,a=encode_function(f); print('encode',time.perf_counter()-t)
for i in range(2):
    t=time.perf_counter()
    with open('/tmp/x.djit','wb') as fh: write_model(fh,m,a)
    t1=time.perf_counter()-t
    t=time.perf_counter(); fd=os.open('/tmp/x.djit',os.O_RDONLY); os.fsync(fd); os.close(fd); print('write_model',t1,'fsync',time.perf_counter()-t)
t=time.perf_counter()
with open('/tmp/x.djit','rb') as fh: b=fh.read()
print('read',time.perf_counter()-t)
t=time.perf_counter(); g=distjit.serialize.from_bytes(b); print('from_bytes',time.perf_counter()-t)
os.remove('/tmp/x.djit')
