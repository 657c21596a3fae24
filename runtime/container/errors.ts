// Errors of the container state machine, each one line naming the container.

export class ContainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerError';
  }
}

export class NotFoundError extends ContainerError {
  constructor(id: string) {
    super(`container "${id}" does not exist`);
    this.name = 'NotFoundError';
  }
}

export class ExistsError extends ContainerError {
  constructor(id: string) {
    super(`container "${id}" already exists`);
    this.name = 'ExistsError';
  }
}

export class WrongStateError extends ContainerError {
  constructor(id: string, action: string, status: string) {
    super(`cannot ${action} container "${id}": it is ${status}`);
    this.name = 'WrongStateError';
  }
}
