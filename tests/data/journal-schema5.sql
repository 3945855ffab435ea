PRAGMA user_version = 5;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE IF NOT EXISTS "meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
INSERT INTO meta VALUES('store_id','AMS-01');
INSERT INTO meta VALUES('terminal_id','T1');
INSERT INTO meta VALUES('currency','EUR');
CREATE TABLE IF NOT EXISTS "events" (
   "seq" INTEGER PRIMARY KEY,
   "event_id" TEXT NOT NULL,
   "store_id" TEXT NOT NULL,
   "terminal_id" TEXT NOT NULL,
   "kind" TEXT NOT NULL,
   "member_id" TEXT,
   "phone" TEXT,
   "points" INTEGER NOT NULL,
   "amount" INTEGER,
   "currency" TEXT,
   "ref_event_id" TEXT,
   "ruleset" TEXT NOT NULL,
   "detail" TEXT NOT NULL,
   "staff_id" TEXT,
   "created_at" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "hash" TEXT NOT NULL
);
INSERT INTO events VALUES(1,'aad749aa-e349-45af-81bb-a421f6b8d173','AMS-01','T1','enroll','MVNC6Z3VT7GV4F3K','+31612345678',0,NULL,NULL,NULL,'2026.1+a6c9d92a','{"consent":true,"lines":["Welcome, Anna! Member code M1-MVNC-6Z3V-T7GV-4F3K-E"],"name":"Anna","referred_by":null}','C7','2026-11-25T10:03:00.000Z','0000000000000000000000000000000000000000000000000000000000000000','f3d9b1c1bea343d05aaedaf6eca655bd1113c623e8995fc7d104b39bd05de0b0');
INSERT INTO events VALUES(2,'116133ad-f9f4-48a5-887e-6ed905899b41','AMS-01','T1','welcome_bonus','MVNC6Z3VT7GV4F3K',NULL,50,NULL,NULL,'aad749aa-e349-45af-81bb-a421f6b8d173','2026.1+a6c9d92a','{"lines":["Welcome bonus = +50"],"lot":{"expires_at":"2028-11-25T10:03:00.000Z","spendable_at":null}}','C7','2026-11-25T10:03:00.000Z','f3d9b1c1bea343d05aaedaf6eca655bd1113c623e8995fc7d104b39bd05de0b0','2c966ad3fd4c9b1f61dc50f3fcb2d5b81c422874c24d11adc8f412641e278aa2');
INSERT INTO events VALUES(3,'7c6adba2-dc1f-4a70-b8ff-fe1c4ecb1262','AMS-01','T1','enroll','4H570P36P9KWYKYR','+31687654321',0,NULL,NULL,NULL,'2026.1+a6c9d92a','{"consent":false,"lines":["Welcome, Bøb ×! Member code M1-4H57-0P36-P9KW-YKYR-8"],"name":"Bøb ×","referred_by":"MVNC6Z3VT7GV4F3K"}',NULL,'2026-11-25T10:04:00.000Z','2c966ad3fd4c9b1f61dc50f3fcb2d5b81c422874c24d11adc8f412641e278aa2','6b3d4108f5219c381b40e73e9168d42cbe253cb9ce107b4d89d99b1641628c80');
INSERT INTO events VALUES(4,'d166e5c9-2314-4af6-80f3-7a73c9779a67','AMS-01','T1','welcome_bonus','4H570P36P9KWYKYR',NULL,50,NULL,NULL,'7c6adba2-dc1f-4a70-b8ff-fe1c4ecb1262','2026.1+a6c9d92a','{"lines":["Welcome bonus = +50"],"lot":{"expires_at":"2028-11-25T10:04:00.000Z","spendable_at":null}}',NULL,'2026-11-25T10:04:00.000Z','6b3d4108f5219c381b40e73e9168d42cbe253cb9ce107b4d89d99b1641628c80','ccc5c4fdb26e514f0975b7d357e10ac7e3d57c91512ef9ee82e2df6b3f9ccea6');
INSERT INTO events VALUES(5,'e8057f18-a482-4620-8f0b-9bc463e4ab1e','AMS-01','T1','referral_bonus','4H570P36P9KWYKYR',NULL,50,NULL,NULL,'7c6adba2-dc1f-4a70-b8ff-fe1c4ecb1262','2026.1+a6c9d92a','{"lines":["Referral bonus = +50"],"lot":{"expires_at":"2028-11-25T10:04:00.000Z","spendable_at":null}}',NULL,'2026-11-25T10:04:00.000Z','ccc5c4fdb26e514f0975b7d357e10ac7e3d57c91512ef9ee82e2df6b3f9ccea6','d79d7b950064c172466264f7afd06c6a7b3c7f2cdf992b4b9832ff023fc68582');
INSERT INTO events VALUES(6,'7f559520-15ce-4215-83d4-d9107244ff52','AMS-01','T1','referral_bonus','MVNC6Z3VT7GV4F3K',NULL,100,NULL,NULL,'7c6adba2-dc1f-4a70-b8ff-fe1c4ecb1262','2026.1+a6c9d92a','{"lines":["Bonus for referring a friend = +100"],"lot":{"expires_at":"2028-11-25T10:04:00.000Z","spendable_at":null}}',NULL,'2026-11-25T10:04:00.000Z','d79d7b950064c172466264f7afd06c6a7b3c7f2cdf992b4b9832ff023fc68582','2d5e71a137c5c4dbc424c1838191506eee626ef8cf3a15b8d148f7f49139ac30');
INSERT INTO events VALUES(7,'7ab2c28c-6055-4e5e-8f1e-5f353f5d1e2e','AMS-01','T1','earn','MVNC6Z3VT7GV4F3K',NULL,120,12000,'EUR',NULL,'2026.1+a6c9d92a','{"breakdown":{"base":120,"basket":[{"amount":12000,"category":"general"}],"bonuses":[],"membership":null,"tier":"Bronze"},"lines":["120.00 EUR × 1 pt = 120"],"lot":{"expires_at":"2028-11-25T10:05:00.000Z","spendable_at":null}}','C7','2026-11-25T10:05:00.000Z','2d5e71a137c5c4dbc424c1838191506eee626ef8cf3a15b8d148f7f49139ac30','78f31416b328d9c7d8aac35ed333d19d820dbb0d38a2611e52fed0300407cacf');
INSERT INTO events VALUES(8,'b7e97ef6-e283-4334-8a92-0b866f68e302','AMS-01','T1','earn',NULL,'+31611111111',50,5000,'EUR',NULL,'2026.1+a6c9d92a','{"breakdown":{"base":50,"basket":[{"amount":5000,"category":"general"}],"bonuses":[],"membership":null,"tier":"Bronze"},"lines":["50.00 EUR × 1 pt = 50"],"lot":{"expires_at":"2028-11-25T10:06:00.000Z","spendable_at":null}}',NULL,'2026-11-25T10:06:00.000Z','78f31416b328d9c7d8aac35ed333d19d820dbb0d38a2611e52fed0300407cacf','c78e2fb6579de9695b7ffc49cf696e056562d2aaa6d42fe718ec71707a833312');
INSERT INTO events VALUES(9,'b495bcde-99a6-470e-88b1-208e21d22375','AMS-01','T1','redeem','MVNC6Z3VT7GV4F3K',NULL,-150,NULL,NULL,NULL,'2026.1+a6c9d92a','{"draws":[{"earned_at":"2026-11-25T10:03:00.000Z","expires_at":"2028-11-25T10:03:00.000Z","lot_id":"116133ad-f9f4-48a5-887e-6ed905899b41","points":50,"spendable_at":null},{"earned_at":"2026-11-25T10:04:00.000Z","expires_at":"2028-11-25T10:04:00.000Z","lot_id":"7f559520-15ce-4215-83d4-d9107244ff52","points":100,"spendable_at":null}],"lines":["Free coffee = -150"],"reward":{"amount":null,"cost":150,"currency":null,"id":"coffee","item":"SKU-COFFEE","kind":"free_item","name":"Free coffee","percent":null}}',NULL,'2026-11-25T10:07:00.000Z','c78e2fb6579de9695b7ffc49cf696e056562d2aaa6d42fe718ec71707a833312','6bf5d3eb6a3a649d718cfdfe4583a7af7d55088629c385a928c818828f586c95');
INSERT INTO events VALUES(10,'7b6d7904-bc00-4889-abef-c0dc65be81c2','AMS-01','T1','reverse','MVNC6Z3VT7GV4F3K',NULL,-20,2000,'EUR','7ab2c28c-6055-4e5e-8f1e-5f353f5d1e2e','2026.1+a6c9d92a','{"draws":[{"earned_at":"2026-11-25T10:05:00.000Z","expires_at":"2028-11-25T10:05:00.000Z","lot_id":"7ab2c28c-6055-4e5e-8f1e-5f353f5d1e2e","points":20,"spendable_at":null}],"lines":["Refund 20.00 EUR of sale #7 = -20"],"refund_amount":2000,"reverses":"earn","sale_at":"2026-11-25T10:05:00.000Z","shortfall":0}',NULL,'2026-11-25T10:08:00.000Z','6bf5d3eb6a3a649d718cfdfe4583a7af7d55088629c385a928c818828f586c95','d97d8cca88754cc3eeda3240cc38c93136cd1c1834a98a1db1761b604052d761');
CREATE TABLE IF NOT EXISTS "members" (
   "member_id" TEXT PRIMARY KEY,
   "phone" TEXT,
   "name" TEXT,
   "consent" INTEGER DEFAULT 0,
   "enrolled_at" TEXT,
   "referred_by" TEXT,
   "confirmed_balance" INTEGER NOT NULL DEFAULT 0,
   "confirmed_qualifying" INTEGER NOT NULL DEFAULT 0,
   "confirmed_through_seq" INTEGER NOT NULL DEFAULT 0,
   "confirmed_at" TEXT,
   "membership_plan" TEXT,
   "membership_until" TEXT,
   "source" TEXT DEFAULT 'local'
, tier TEXT);
INSERT INTO members VALUES('MVNC6Z3VT7GV4F3K','+31612345678','Anna',1,'2026-11-25T10:03:00.000Z',NULL,0,0,0,NULL,NULL,NULL,'local',NULL);
INSERT INTO members VALUES('4H570P36P9KWYKYR','+31687654321','Bøb ×',0,'2026-11-25T10:04:00.000Z','MVNC6Z3VT7GV4F3K',120,40,10,'2026-11-25T10:30:00.000Z',NULL,NULL,'local','Silver');
CREATE TABLE IF NOT EXISTS "member_lots" (
   "lot_id" TEXT PRIMARY KEY,
   "member_id" TEXT REFERENCES "members"("member_id"),
   "points" INTEGER,
   "remaining" INTEGER,
   "earned_at" TEXT,
   "expires_at" TEXT,
   "spendable_at" TEXT
);
INSERT INTO member_lots VALUES('hq-lot-1','4H570P36P9KWYKYR',100,80,'2026-10-01T00:00:00.000Z','2027-10-01T00:00:00.000Z',NULL);
CREATE TABLE IF NOT EXISTS "outbox" (
   "terminal_id" TEXT PRIMARY KEY,
   "acked_seq" INTEGER DEFAULT 0,
   "last_attempt_at" TEXT,
   "last_error" TEXT
);
INSERT INTO outbox VALUES('T1',0,NULL,NULL);
CREATE TABLE IF NOT EXISTS "staff" (
   "staff_id" TEXT PRIMARY KEY,
   "name" TEXT,
   "role" TEXT,
   "pin_hash" TEXT
, failed_pins INTEGER NOT NULL DEFAULT 0, locked_until TEXT);
INSERT INTO staff VALUES('M1','Maria','manager','scrypt$16384$8$1$076703c7375901b894f02ffdea642a4c$3abedaed2de1f33bf603831135e3dd1ef4e9265a265905f548b8e2188299db0c',0,NULL);
INSERT INTO staff VALUES('C7','Chris','cashier','scrypt$16384$8$1$f3605682c5a825e06ff93a07bd698a9b$89bb991c87396ded1e9187baca9edc012dc2207be1b6d1eb2cebcc1b5b219c28',1,NULL);
CREATE TABLE IF NOT EXISTS "print_jobs" (
   "job_id" INTEGER PRIMARY KEY,
   "event_id" TEXT,
   "kind" TEXT NOT NULL,
   "slip" TEXT NOT NULL,
   "status" TEXT NOT NULL DEFAULT 'queued',
   "attempts" INTEGER NOT NULL DEFAULT 0,
   "next_attempt_at" TEXT,
   "last_error" TEXT,
   "created_at" TEXT NOT NULL,
   "printed_at" TEXT,
   "reprint_of" INTEGER
, lease_until TEXT);
CREATE TABLE IF NOT EXISTS "device_state" (
   "device" TEXT PRIMARY KEY,
   "state" TEXT,
   "detail" TEXT,
   "updated_at" TEXT
);
CREATE TABLE requests (request_id TEXT PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events (event_id));
INSERT INTO requests VALUES('pos-1','aad749aa-e349-45af-81bb-a421f6b8d173');
CREATE UNIQUE INDEX "idx_events_event_id"
    ON "events" ("event_id");
CREATE INDEX "idx_events_member_id_seq"
    ON "events" ("member_id", "seq");
CREATE INDEX "idx_events_phone_seq"
    ON "events" ("phone", "seq");
CREATE INDEX "idx_events_ref_event_id"
    ON "events" ("ref_event_id");
CREATE UNIQUE INDEX "idx_members_phone"
    ON "members" ("phone");
CREATE INDEX "idx_member_lots_member_id"
    ON "member_lots" ("member_id");
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE INDEX "idx_print_jobs_status_job_id"
    ON "print_jobs" ("status", "job_id");
COMMIT;
