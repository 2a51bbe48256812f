-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "EntityKind" AS ENUM ('user', 'organization');

-- CreateTable
CREATE TABLE "entity" (
    "id" UUID NOT NULL,
    "kind" "EntityKind" NOT NULL,
    "slug" TEXT NOT NULL,
    "is_site_admin" BOOLEAN NOT NULL DEFAULT false,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "scram_salt" BYTEA,
    "scram_iterations" INTEGER,

    CONSTRAINT "entity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "password_secret" (
    "entity_id" UUID NOT NULL,
    "stored_key" BYTEA NOT NULL,
    "server_key" BYTEA NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "password_secret_pkey" PRIMARY KEY ("entity_id")
);

-- CreateTable
CREATE TABLE "database" (
    "id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "physical_name" TEXT NOT NULL,
    "writer_role" TEXT NOT NULL,
    "writer_password" TEXT NOT NULL,
    "reader_role" TEXT NOT NULL,
    "reader_password" TEXT NOT NULL,
    "provisioned_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "database_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "entity_slug_key" ON "entity"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "database_physical_name_key" ON "database"("physical_name");

-- CreateIndex
CREATE UNIQUE INDEX "database_owner_id_name_key" ON "database"("owner_id", "name");

-- AddForeignKey
ALTER TABLE "password_secret" ADD CONSTRAINT "password_secret_entity_id_fkey" FOREIGN KEY ("entity_id") REFERENCES "entity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "database" ADD CONSTRAINT "database_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "entity"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

