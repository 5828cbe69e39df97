-- Feature set 5: who is out for each team's game (nba.availability.v1), the input of the
-- teammates-out features. Like a team box, a report is league data every instance reads: a
-- new or changed report takes the next league revision, and a report of a day some vectors
-- were computed without makes them stale from that day (not the next: it is about the game
-- itself). `absent` holds [player_id, minutes, points, rebounds, assists] per player listed
-- out, the means as the report gives them (null where it does not).
CREATE TABLE availability (
    game_key  text    NOT NULL,
    team      text    NOT NULL,
    game_date date    NOT NULL,
    season    text    NOT NULL,
    absent    jsonb   NOT NULL,
    event_id  text    NOT NULL,
    revision  bigint  NOT NULL,
    PRIMARY KEY (game_key, team)
);
CREATE INDEX availability_by_revision ON availability (revision);
