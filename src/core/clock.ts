/** The only way code below server/ and cli/ learns the time: it is passed in. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
