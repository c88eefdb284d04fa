#!/usr/bin/env python3
"""ferretdb_ops.py URL SIZE: per-operation latency of the Mongo message store's
query shapes against a FerretDB (docs/ferretdb-costs.md). Fills the messages
collection of database "chat" up to SIZE synthetic documents (50 channels
CFILL0..49) first, then times each shape (median and min of N runs, ms).
Needs pymongo (pip install pymongo). REPS=N: runs of the slow shapes (5);
FILLONLY=1: fill and stop. Use a throwaway server: it writes into "chat".
"""
from bson.int64 import Int64
url,target=sys.argv[1],int(sys.argv[2])
db=pymongo.MongoClient(url,w=1)['chat']   # w=1: FerretDB ignores w anyway
M,S,O,META=db.messages,db.staged,db.outbox,db.meta
have=M.estimated_document_count()
t0=time.time(); base=1796000000000000
i=have
while i<target:
    docs=[]
    for j in range(min(1000,target-i)):
        ts=base+i+j
        docs.append({"_id":f"CFILL{(i+j)%50}:{ts}","c":f"CFILL{(i+j)%50}","ts":Int64(ts),"u":"UB0","tm":"","t":f"filler post {i+j} of the history",
          "k":f"t:{ts}","rc":Int64(0),"f":[],"mn":[],"mf":0,"rb":False,"inh":True,"w":["filler","post",str(i+j),"of","the","history"],
          "v":Int64(0),"q":f"CFILL{(i+j)%50}:{ts-1}","pi":"x","li":"x","lo":Int64(ts)})
    M.insert_many(docs,ordered=False); i+=len(docs)
if target>have: print(f"# filled {target-have} in {time.time()-t0:.1f}s",file=sys.stderr)
n=M.estimated_document_count()
ids=[d["_id"] for d in M.find({"c":"CFILL1"},{"_id":1}).limit(16)] if n else []
import os
if os.environ.get("FILLONLY"): sys.exit(0)
if len(ids)<16: ids=[f"none:{k}" for k in range(16)]
def tm(name,fn,reps=15):
    xs=[]
    for r in range(reps):
        a=time.perf_counter(); fn(r); xs.append((time.perf_counter()-a)*1e3)
    print(f"{n}\t{name}\t{statistics.median(xs):.2f}\t{min(xs):.2f}",flush=True)
k=[0]
def ins_msg(r):
    k[0]+=1; ts=base-10000000+random.randrange(10**9)
    M.insert_one({"_id":f"CT:{ts}","c":"CT","ts":Int64(ts),"u":"U","t":"x","k":f"t:{ts}","inh":True,"w":["x"],"v":Int64(0),"q":f"CT:{ts}q","pi":"a","li":"a"})
tm("insert messages (1 doc, 6 indexes)",ins_msg)
tm("insert staged (1 doc)",lambda r:S.insert_one({"_id":f"st{random.random()}","o":Int64(r),"m":"CT:1","pt":True,"dp":"z","t":"message","k":"CT","d":b"x"}))
tm("find staged sort{o,_id} limit 256",lambda r:list(S.find({}).sort([("o",1),("_id",1)]).limit(256)))
S.delete_many({})
tm("find messages {_id: id} proj li,pi",lambda r:list(M.find({"_id":ids[r%16]},{"li":1,"pi":1})))
tm("find messages {_id:{$in:[16]}} proj li,pi",lambda r:list(M.find({"_id":{"$in":ids}},{"li":1,"pi":1})),reps=int(__import__("os").environ.get("REPS","5")))
tm("find staged {dp:{$in:[16]}}",lambda r:list(S.find({"dp":{"$in":ids}})),reps=int(__import__("os").environ.get("REPS","5")))
tm("newest ts: find {_id:{$gte:'C:',$lt:'C;'}} sort _id -1 limit 1",lambda r:list(M.find({"_id":{"$gte":"CFILL1:","$lt":"CFILL1;"}},{"ts":1,"li":1,"lo":1}).sort("_id",-1).limit(1)),reps=int(__import__("os").environ.get("REPS","5")))
tm("history: find {c, inh:true} sort ts -1 limit 100",lambda r:list(M.find({"c":"CFILL1","inh":True}).sort("ts",-1).limit(100)),reps=int(__import__("os").environ.get("REPS","5")))
tm("get by client key: find {c, k}",lambda r:list(M.find({"c":"CFILL1","k":"t:1"})),reps=int(__import__("os").environ.get("REPS","5")))
META.update_one({"_id":"benchlease"},{"$set":{"own":"me","ep":Int64(1),"sq":Int64(0),"ak":Int64(0)}},upsert=True)
tm("findAndModify meta {_id,own,ep} $inc sq",lambda r:META.find_one_and_update({"_id":"benchlease","own":"me","ep":Int64(1)},{"$inc":{"sq":Int64(1)}}))
tm("find outbox {_id:{$gt}} sort _id limit 512",lambda r:list(O.find({"_id":{"$gt":Int64(0)}}).sort("_id",1).limit(512)))
tm("delete outbox {_id:{$lte}}",lambda r:O.delete_many({"_id":{"$lte":Int64(-1)}}))
tm("update messages {_id,v} $set (edit shape)",lambda r:M.update_one({"_id":ids[0],"v":Int64(-5)},{"$set":{"t":"y"}}),reps=int(__import__("os").environ.get("REPS","5")))
M.delete_many({"c":"CT"})
