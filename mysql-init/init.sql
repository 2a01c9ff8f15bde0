-- Databases, users, grants and tables of the covertype stack (MySQL 8 / MariaDB 10.6+).
--
-- Run once by the MySQL image on an empty data directory (mounted at /docker-entrypoint-initdb.d), before
-- passwords.sh, which gives the two users their passwords from the compose environment and unlocks them.
-- The tables must agree with src/covertype/store/tables.py: tests/store/test_init_sql.py applies this file to a
-- real server and compares both, column by column.

CREATE DATABASE IF NOT EXISTS `covertype` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `mlflow` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- Locked until passwords.sh sets their passwords: no account is ever usable without one.
CREATE USER IF NOT EXISTS 'covertype'@'%' ACCOUNT LOCK;
CREATE USER IF NOT EXISTS 'mlflow'@'%' ACCOUNT LOCK;

-- The pipeline and the inference API read and write rows; they never create, alter or drop anything.
GRANT SELECT, INSERT, UPDATE, DELETE ON `covertype`.* TO 'covertype'@'%';
-- MLflow runs its own schema migrations in its database.
GRANT ALL PRIVILEGES ON `mlflow`.* TO 'mlflow'@'%';

-- Training data: the 13 canonical columns; a row seen twice (same row_hash) is stored once.
CREATE TABLE IF NOT EXISTS `covertype`.`forest_cover_data` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `Elevation` INT NOT NULL,
    `Aspect` INT NOT NULL,
    `Slope` INT NOT NULL,
    `Horizontal_Distance_To_Hydrology` INT NOT NULL,
    `Vertical_Distance_To_Hydrology` INT NOT NULL,
    `Horizontal_Distance_To_Roadways` INT NOT NULL,
    `Hillshade_9am` INT NOT NULL,
    `Hillshade_Noon` INT NOT NULL,
    `Hillshade_3pm` INT NOT NULL,
    `Horizontal_Distance_To_Fire_Points` INT NOT NULL,
    `Wilderness_Area` VARCHAR(16) NOT NULL,
    `Soil_Type` VARCHAR(8) NOT NULL,
    `Cover_Type` SMALLINT NOT NULL,
    `group_number` SMALLINT NOT NULL,
    `batch_number` INT NOT NULL,
    `ingested_at` DATETIME NOT NULL,
    `row_hash` VARCHAR(32) NOT NULL,
    PRIMARY KEY (`id`),
    CONSTRAINT `uq_forest_cover_data_row_hash` UNIQUE (`row_hash`),
    INDEX `ix_forest_cover_data_group_batch` (`group_number`, `batch_number`)
) ENGINE = InnoDB;

-- One row per poll of the data API: what it received and stored, and how it ended.
CREATE TABLE IF NOT EXISTS `covertype`.`ingestion_runs` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `run_id` VARCHAR(250) NOT NULL,
    `group_number` SMALLINT NOT NULL,
    `batch_number` INT NULL,
    `rows_received` INT NOT NULL,
    `rows_inserted` INT NOT NULL,
    `duplicates` INT NOT NULL,
    `rejected` INT NOT NULL,
    `status` VARCHAR(16) NOT NULL,
    `error` TEXT NULL,
    `started_at` DATETIME NOT NULL,
    `finished_at` DATETIME NULL,
    PRIMARY KEY (`id`),
    INDEX `ix_ingestion_runs_group_batch` (`group_number`, `batch_number`),
    INDEX `ix_ingestion_runs_started_at` (`started_at`)
) ENGINE = InnoDB;

-- Rows that failed validation, as received, with the reason; never silently dropped.
CREATE TABLE IF NOT EXISTS `covertype`.`forest_cover_rejected` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `run_id` VARCHAR(250) NOT NULL,
    `group_number` SMALLINT NOT NULL,
    `batch_number` INT NULL,
    `row_number` INT NOT NULL,
    `payload` TEXT NOT NULL,
    `reason` TEXT NOT NULL,
    `row_hash` VARCHAR(32) NOT NULL,
    `rejected_at` DATETIME NOT NULL,
    PRIMARY KEY (`id`),
    CONSTRAINT `uq_forest_cover_rejected_row_hash` UNIQUE (`row_hash`)
) ENGINE = InnoDB;

-- What the inference API answered.
CREATE TABLE IF NOT EXISTS `covertype`.`predictions` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `Elevation` INT NOT NULL,
    `Aspect` INT NOT NULL,
    `Slope` INT NOT NULL,
    `Horizontal_Distance_To_Hydrology` INT NOT NULL,
    `Vertical_Distance_To_Hydrology` INT NOT NULL,
    `Horizontal_Distance_To_Roadways` INT NOT NULL,
    `Hillshade_9am` INT NOT NULL,
    `Hillshade_Noon` INT NOT NULL,
    `Hillshade_3pm` INT NOT NULL,
    `Horizontal_Distance_To_Fire_Points` INT NOT NULL,
    `Wilderness_Area` VARCHAR(16) NOT NULL,
    `Soil_Type` VARCHAR(8) NOT NULL,
    `cover_type` SMALLINT NOT NULL,
    `probability` FLOAT NOT NULL,
    `model_name` VARCHAR(250) NOT NULL,
    `model_version` VARCHAR(32) NOT NULL,
    `predicted_at` DATETIME NOT NULL,
    PRIMARY KEY (`id`),
    INDEX `ix_predictions_predicted_at` (`predicted_at`)
) ENGINE = InnoDB;

-- The champion tested on each stored batch before it is trained on: one row per group, batch and version.
-- drift_status is the drift verdict (drifted, stable) or why there is none (not_enough_rows, no_profile,
-- unjudged), drift_score NULL without a verdict. drifted_features is a JSON list of column names;
-- class_recall and feature_psi are JSON objects.
CREATE TABLE IF NOT EXISTS `covertype`.`batch_quality` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `group_number` SMALLINT NOT NULL,
    `batch_number` INT NOT NULL,
    `model_version` VARCHAR(32) NOT NULL,
    `rows` INT NOT NULL,
    `accuracy` DOUBLE NOT NULL,
    `macro_f1` DOUBLE NOT NULL,
    `drift_score` DOUBLE NULL,
    `drifted_features` TEXT NOT NULL,
    `class_recall` TEXT NOT NULL,
    `feature_psi` TEXT NOT NULL,
    `evaluated_at` DATETIME NOT NULL,
    `drift_status` VARCHAR(16) NOT NULL,
    PRIMARY KEY (`id`),
    CONSTRAINT `uq_batch_quality_group_batch_version` UNIQUE (`group_number`, `batch_number`, `model_version`)
) ENGINE = InnoDB;
